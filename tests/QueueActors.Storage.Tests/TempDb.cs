using Microsoft.Data.Sqlite;

namespace QueueActors.Storage.Tests;

/// <summary>A unique temporary folder holding a test database; deleted, with everything in it, on dispose.</summary>
public sealed class TempDb : IDisposable
{
    /// <summary>Creates a fresh folder under the system temp folder.</summary>
    public TempDb()
    {
        Folder = Path.Combine(Path.GetTempPath(), "queueactors-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Folder);
        DbPath = Path.Combine(Folder, "queue.sqlite3");
    }

    /// <summary>The folder; deleted on dispose.</summary>
    public string Folder { get; }

    /// <summary>The database file's path inside <see cref="Folder"/> (not created until a queue opens it).</summary>
    public string DbPath { get; }

    /// <summary>Another file path inside the folder.</summary>
    public string PathOf(string name) => Path.Combine(Folder, name);

    /// <summary>A queue on this database with the given clock.</summary>
    public BlueskyQueue Open(TimeProvider? clock = null) => new(DbPath, clock ?? TimeProvider.System);

    /// <summary>A queue on this database with the given settings (its DbPath is set to this database).</summary>
    public BlueskyQueue Open(QueueSettings settings) => new(settings with { DbPath = DbPath });

    /// <summary>A plain connection to the database, outside any queue (as another program would open it).</summary>
    public SqliteConnection Connect()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = DbPath,
            Pooling = false,
        }.ToString());
        connection.Open();
        return connection;
    }

    /// <summary>Runs one scalar query on a fresh connection.</summary>
    public object? Scalar(string sql)
    {
        using var connection = Connect();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        var value = command.ExecuteScalar();
        return value is DBNull ? null : value;
    }

    /// <summary>Runs one scalar count query on a fresh connection.</summary>
    public long Count(string sql = "SELECT COUNT(*) FROM jobs;") => Convert.ToInt64(Scalar(sql));

    /// <summary>Deletes the folder (retrying briefly if a file is still held).</summary>
    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        for (int i = 0; i < 5; i++)
        {
            try
            {
                if (Directory.Exists(Folder)) Directory.Delete(Folder, recursive: true);
                return;
            }
            catch (IOException) when (i < 4)
            {
                Thread.Sleep(50);
            }
            catch (UnauthorizedAccessException) when (i < 4)
            {
                Thread.Sleep(50);
            }
            catch (Exception)
            {
                return; // a leftover temp folder is not a test failure
            }
        }
    }
}

using Microsoft.Data.Sqlite;

namespace QueueActors.Storage;

/// <summary>
/// One open connection with its pragmas set and its statements prepared once: the queue keeps a
/// small pool of these, so the claim path neither re-runs pragmas nor re-parses SQL.
/// </summary>
internal sealed class Session : IDisposable
{
    private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);

    public Session(SqliteConnection connection) => Connection = connection;

    public SqliteConnection Connection { get; }

    /// <summary>True while a transaction is open (SQLite may roll one back by itself, on a full disk or an I/O error).</summary>
    public bool InTransaction => SQLitePCL.raw.sqlite3_get_autocommit(Connection.Handle) == 0;

    /// <summary>The prepared command for <paramref name="sql"/>, its parameters cleared.</summary>
    public SqliteCommand Command(string sql)
    {
        if (!_commands.TryGetValue(sql, out var command))
        {
            command = Connection.CreateCommand();
            command.CommandText = sql;
            _commands[sql] = command;
        }
        command.Parameters.Clear();
        return command;
    }

    public int Execute(string sql, params (string Name, object? Value)[] parameters)
    {
        var command = Bind(sql, parameters);
        return command.ExecuteNonQuery();
    }

    public object? Scalar(string sql, params (string Name, object? Value)[] parameters)
    {
        var command = Bind(sql, parameters);
        var value = command.ExecuteScalar();
        return value is DBNull ? null : value;
    }

    public SqliteDataReader Query(string sql, params (string Name, object? Value)[] parameters) =>
        Bind(sql, parameters).ExecuteReader();

    private SqliteCommand Bind(string sql, (string Name, object? Value)[] parameters)
    {
        var command = Command(sql);
        foreach (var (name, value) in parameters)
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return command;
    }

    public void Dispose()
    {
        foreach (var command in _commands.Values) command.Dispose();
        _commands.Clear();
        Connection.Dispose();
    }
}

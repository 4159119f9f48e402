using System.Globalization;
using Microsoft.Data.Sqlite;
using QueueActors.Storage;

namespace QueueActors.Bench;

/// <summary>
/// Plain Microsoft.Data.Sqlite: the same SQL the queue runs (copied from <c>BlueskyQueue</c>), the
/// same pragmas, used for the raw floor of the drain, for fast seeding and for query plans.
/// </summary>
internal static class RawSql
{
    /// <summary>BlueskyQueue's JobColumns, as its claim returns them.</summary>
    public const string JobColumns =
        "id, created_at, not_before, text, reply_to_uri, reply_to_cid, image_path, image_alt, expected_handle, " +
        "dry_run, status, attempts, max_attempts, last_error, result_uri, result_url, posted_at, " +
        "claimed_at, claim_token, record_key, idempotency_key";

    /// <summary>BlueskyQueue.ClaimNext's statement, for a claim of any handle or of one.</summary>
    public static string ClaimSql(bool withHandle, string? index = null)
    {
        string source = $"jobs INDEXED BY {index ?? (withHandle ? "idx_jobs_handle_due" : "idx_jobs_due")}";
        string filter = withHandle ? "AND expected_handle = $handle" : "";
        return $"""
            UPDATE jobs SET status = 'in_progress', claimed_at = $now, claim_token = $token,
                            record_key = COALESCE(record_key, $record_key)
            WHERE rowid = (SELECT rowid FROM {source}
                           WHERE status = 'queued' AND not_before <= $now {filter}
                           ORDER BY not_before, created_at, rowid LIMIT 1)
            RETURNING {JobColumns};
            """;
    }

    /// <summary>BlueskyQueue.MarkPosted's statement.</summary>
    public const string MarkPostedSql = """
        UPDATE jobs SET status = 'posted', result_uri = $uri, result_url = $url, posted_at = $now,
                        finished_at = $now, claim_token = NULL
        WHERE id = $id AND status = 'in_progress' AND ($token IS NULL OR claim_token = $token);
        """;

    /// <summary>The canonical time form of the database (DbTime.ToDb).</summary>
    public static string Time(DateTimeOffset value) =>
        value.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture);

    public static string SyncPragma(SyncMode sync) => sync switch
    {
        SyncMode.Full => "FULL",
        SyncMode.Normal => "NORMAL",
        _ => "OFF",
    };

    /// <summary>A connection opened the way BlueskyQueue opens its own: same connection string, same pragmas.</summary>
    public static SqliteConnection Open(string dbPath, QueueSettings settings)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = dbPath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
            DefaultTimeout = Math.Max(1, (int)Math.Ceiling(settings.BusyTimeout.TotalSeconds)),
        }.ToString());
        connection.Open();
        Execute(connection,
            $"PRAGMA busy_timeout = {(int)settings.BusyTimeout.TotalMilliseconds}; " +
            $"PRAGMA synchronous = {SyncPragma(settings.Synchronous)}; PRAGMA cache_size = -{settings.CacheSizeKiB}; " +
            $"PRAGMA wal_autocheckpoint = {settings.WalAutoCheckpointPages}; PRAGMA temp_store = MEMORY;");
        return connection;
    }

    public static int Execute(SqliteConnection c, string sql, params (string Name, object? Value)[] ps)
    {
        using var cmd = Command(c, sql, ps);
        return cmd.ExecuteNonQuery();
    }

    public static object? Scalar(SqliteConnection c, string sql, params (string Name, object? Value)[] ps)
    {
        using var cmd = Command(c, sql, ps);
        return cmd.ExecuteScalar();
    }

    public static SqliteCommand Command(SqliteConnection c, string sql, params (string Name, object? Value)[] ps)
    {
        var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (name, value) in ps) cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return cmd;
    }

    /// <summary>The settings as SQLite reports them on a connection opened with <paramref name="settings"/>.</summary>
    public static SqliteSettingsReport ReadSettings(string dbPath, QueueSettings settings)
    {
        using var c = Open(dbPath, settings);
        string P(string pragma) => Convert.ToString(Scalar(c, $"PRAGMA {pragma};"), CultureInfo.InvariantCulture) ?? "";
        string sync = P("synchronous") switch { "0" => "OFF (0)", "1" => "NORMAL (1)", "2" => "FULL (2)", "3" => "EXTRA (3)", var s => s };
        return new SqliteSettingsReport(
            SqliteVersion: Convert.ToString(Scalar(c, "SELECT sqlite_version();"), CultureInfo.InvariantCulture) ?? "",
            JournalMode: P("journal_mode"),
            Synchronous: sync,
            BusyTimeoutMs: P("busy_timeout"),
            CacheSize: P("cache_size"),
            WalAutocheckpointPages: P("wal_autocheckpoint"),
            PageSize: P("page_size"),
            TempStore: P("temp_store"));
    }

    /// <summary>EXPLAIN QUERY PLAN of a claim statement, one detail per line.</summary>
    public static IReadOnlyList<string> ClaimPlan(SqliteConnection c, string sql)
    {
        using var cmd = Command(c, "EXPLAIN QUERY PLAN " + sql,
            ("$now", Time(DateTimeOffset.UtcNow)), ("$token", "t"), ("$record_key", "k"), ("$handle", Bench.Handle(0)));
        using var reader = cmd.ExecuteReader();
        var lines = new List<string>();
        while (reader.Read()) lines.Add(reader.GetString(3));
        return lines;
    }

    /// <summary>
    /// Inserts <paramref name="count"/> posted/failed rows (9 in 10 posted) in one statement, as history
    /// older than any queued job. The caller's connection should run with synchronous OFF inside a transaction.
    /// </summary>
    public static void InsertHistory(SqliteConnection c, int count, int handles, DateTimeOffset now)
    {
        Execute(c, $"""
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $count),
            r(i, h, t) AS (SELECT i, lower(hex(randomblob(16))), datetime($base, printf('-%d seconds', ($count - i) * 3)) FROM n)
            INSERT INTO jobs (id, created_at, not_before, text, expected_handle, dry_run, status, attempts, max_attempts,
                              last_error, result_uri, result_url, posted_at, claimed_at, finished_at, record_key)
            SELECT substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-4' || substr(h, 14, 3) || '-a' || substr(h, 18, 3) || '-' || substr(h, 21, 12),
                   t || '.000000', t || '.000000',
                   'history job ' || i || ': ' || 'a post that went out some time ago, with a little text to make the row realistic',
                   'h' || (i % $handles) || '.bench.social', 0,
                   CASE WHEN i % 10 = 0 THEN 'failed' ELSE 'posted' END,
                   CASE WHEN i % 10 = 0 THEN 3 ELSE 0 END, 3,
                   CASE WHEN i % 10 = 0 THEN 'HTTP 500 from the PDS' END,
                   CASE WHEN i % 10 = 0 THEN NULL ELSE 'at://did:plc:benchbenchbenchbench/app.bsky.feed.post/hist' || i END,
                   CASE WHEN i % 10 = 0 THEN NULL ELSE 'https://bsky.app/profile/h' || (i % $handles) || '.bench.social/post/hist' || i END,
                   CASE WHEN i % 10 = 0 THEN NULL ELSE datetime(t, '+30 seconds') || '.000000' END,
                   datetime(t, '+20 seconds') || '.000000',
                   datetime(t, '+30 seconds') || '.000000',
                   'hist' || i
            FROM r;
            """,
            ("$count", count), ("$handles", handles), ("$base", now.AddDays(-1).UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)));
    }

    /// <summary>Inserts <paramref name="count"/> queued jobs, all already due, spread over the handles.</summary>
    public static void InsertQueued(SqliteConnection c, int count, int handles, DateTimeOffset now, string tag)
    {
        Execute(c, """
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $count),
            r(i, h, t) AS (SELECT i, lower(hex(randomblob(16))), datetime($base, printf('-%d seconds', $count - i)) FROM n)
            INSERT INTO jobs (id, created_at, not_before, text, expected_handle, dry_run, status, attempts, max_attempts, record_key)
            SELECT substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-4' || substr(h, 14, 3) || '-a' || substr(h, 18, 3) || '-' || substr(h, 21, 12),
                   t || '.000000', t || '.000000',
                   'queued job ' || i || ': a post waiting for its time, with a little text to make the row realistic',
                   'h' || (i % $handles) || '.bench.social', 0, 'queued', 0, 3, $tag || i
            FROM r;
            """,
            ("$count", count), ("$handles", handles), ("$tag", tag),
            ("$base", now.AddMinutes(-1).UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)));
    }
}

internal sealed record SqliteSettingsReport(
    string SqliteVersion, string JournalMode, string Synchronous, string BusyTimeoutMs, string CacheSize,
    string WalAutocheckpointPages, string PageSize, string TempStore)
{
    public override string ToString() =>
        $"SQLite {SqliteVersion}; journal_mode={JournalMode}; synchronous={Synchronous}; busy_timeout={BusyTimeoutMs} ms; " +
        $"cache_size={CacheSize} (negative: KiB); wal_autocheckpoint={WalAutocheckpointPages} pages; page_size={PageSize}; temp_store={TempStore}";
}

/// <summary>Samples the size of a database's -wal file while a workload runs.</summary>
internal sealed class WalMonitor : IDisposable
{
    private readonly string _walPath;
    private readonly Timer _timer;
    private long _max;

    public WalMonitor(string dbPath)
    {
        _walPath = dbPath + "-wal";
        _timer = new Timer(_ => Sample(), null, 0, 20);
    }

    public long Max { get { Sample(); return Interlocked.Read(ref _max); } }

    public long Current => File.Exists(_walPath) ? new FileInfo(_walPath).Length : 0;

    private void Sample()
    {
        long size;
        try { size = Current; }
        catch (IOException) { return; }
        long seen;
        while (size > (seen = Interlocked.Read(ref _max)) && Interlocked.CompareExchange(ref _max, size, seen) != seen) { }
    }

    public void Dispose() => _timer.Dispose();
}

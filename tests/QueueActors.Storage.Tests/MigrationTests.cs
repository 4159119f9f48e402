using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Xunit;

namespace QueueActors.Storage.Tests;

/// <summary>
/// Interop and migrations: databases made by other programs from the card's DDL, rows other
/// writers insert, older schema versions; and the storage errors (bad path, not SQLite, locked).
/// </summary>
public sealed class MigrationTests : IDisposable
{
    private readonly TempDb _db = new();

    public void Dispose() => _db.Dispose();

    /// <summary>The clock of the queue in these tests: a day ahead of the real one, so rows that
    /// the sqlite3 shell stamped with <c>datetime('now')</c> are all due.</summary>
    private static ManualClock DayAhead() => new(DateTimeOffset.UtcNow.AddDays(1));

    private static DateTimeOffset Utc(int year, int month, int day, int hour, int minute, int second, int microseconds = 0) =>
        new DateTimeOffset(year, month, day, hour, minute, second, TimeSpan.Zero).AddTicks(microseconds * 10L);

    // ---- (a) a database built with the card's DDL by the sqlite3 shell ----

    /// <summary>
    /// Runs <paramref name="script"/> with the real <c>sqlite3</c> shell, as another program would.
    /// Fallback, only where the shell is not installed: Microsoft.Data.Sqlite runs the same script
    /// (same SQL, same <c>datetime('now')</c>); the test then proves a little less about interop.
    /// </summary>
    private static void RunSqliteShell(string dbPath, string script)
    {
        var shell = FindSqliteShell();
        if (shell is null)
        {
            using var connection = new SqliteConnection($"Data Source={dbPath};Pooling=False");
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = script;
            command.ExecuteNonQuery();
            return;
        }
        var info = new ProcessStartInfo(shell)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("-bail");
        info.ArgumentList.Add(dbPath);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.StandardInput.Write(script);
        process.StandardInput.Close();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(1)), "the sqlite3 shell did not finish");
        Assert.True(process.ExitCode == 0, $"sqlite3 failed ({process.ExitCode}): {stderr.Result} {stdout.Result}");
    }

    private static string? FindSqliteShell()
    {
        if (File.Exists("/usr/bin/sqlite3")) return "/usr/bin/sqlite3";
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            if (dir.Length == 0) continue;
            var candidate = Path.Combine(dir, OperatingSystem.IsWindows() ? "sqlite3.exe" : "sqlite3");
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    private const string ForeignRows = """
        -- Rows as other writers store them: Python's isoformat() with 'T', offsets, 'Z' and
        -- microseconds; str(datetime) with a space; SQLite's own datetime('now') defaults;
        -- handles in mixed case with a leading '@'.
        INSERT INTO jobs (id, created_at, not_before, text, expected_handle) VALUES
            ('r-offset',      '2019-12-31T23:00:00+08:00',        '2020-01-01T08:30:00+08:00',        'offset',       '@Alice.Bsky.Social'),
            ('r-utc-z',       '2019-12-31T10:00:00Z',             '2020-01-01T01:00:00Z',             'utc z',        'ALICE.bsky.social'),
            ('r-micro-late',  '2019-12-31T09:00:00.000001+00:00', '2020-01-01T01:00:00.000400+00:00', 'micro late',   'alice.bsky.social'),
            ('r-micro-early', '2019-12-31T09:30:00.123456+00:00', '2020-01-01T01:00:00.000100+00:00', 'micro early',  'alice.bsky.social'),
            ('r-space',       '2019-12-31 12:00:00.250000',       '2020-01-01 00:45:00.250000',       'python str',   'Bob.Bsky.Social'),
            ('r-naive-t',     '2019-12-31T12:00:00',              '2020-01-01T00:40:00',              'naive T',      '@bob.bsky.social');
        INSERT INTO jobs (id, created_at, text, expected_handle)
            VALUES ('r-default', datetime('now', '-1 hour'), 'default not_before', '@Carol.Bsky.Social');
        INSERT INTO jobs (id, created_at, not_before, text, expected_handle)
            VALUES ('r-default-earlier', datetime('now', '-2 hours'), datetime('now', '-1 hour'), 'earlier', 'carol.bsky.social');
        INSERT INTO jobs (id, created_at, not_before, text, expected_handle, status, attempts, result_uri, result_url, posted_at)
            VALUES ('r-posted', '2019-12-30T08:00:00+08:00', '2019-12-30T08:00:00+08:00', 'done', 'Alice.Bsky.Social', 'posted', 1,
                    'at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3kaaaaaaaaaa2', 'https://bsky.app/x', '2020-01-02T10:00:00+08:00');
        INSERT INTO jobs (id, created_at, text, expected_handle, status, attempts, last_error)
            VALUES ('r-failed', datetime('now', '-3 hours'), 'gave up', 'bob.bsky.social', 'failed', 3, 'boom');
        INSERT INTO daily_posts (handle, date, post_count, reply_count) VALUES ('Alice.Bsky.Social', '2026-12-04', 3, 1);
        """;

    [Fact]
    public async Task CardDdlDatabase_FromSqliteShell_WithForeignRows_MigratesAndClaimsInInstantOrder()
    {
        RunSqliteShell(_db.DbPath, Schema.CardDdl + "\n" + ForeignRows);
        Assert.Equal(0L, _db.Scalar("PRAGMA user_version;"));

        var clock = DayAhead();
        using var queue = _db.Open(clock);
        await queue.InitDbAsync();

        Assert.Equal((long)Schema.CurrentVersion, _db.Scalar("PRAGMA user_version;"));
        Assert.Equal("wal", _db.Scalar("PRAGMA journal_mode;"));
        Assert.Equal(new QueueStats(Queued: 8, InProgress: 0, Posted: 1, Failed: 1), await queue.StatsAsync());
        Assert.Equal(new QueueStats(4, 0, 1, 0), await queue.StatsAsync("@ALICE.bsky.social"));
        Assert.Equal(new QueueStats(2, 0, 0, 1), await queue.StatsAsync("bob.bsky.social"));

        var posted = await StorageTestKit.GetAsync(queue, "r-posted");
        Assert.Equal(Utc(2020, 1, 2, 2, 0, 0), posted.PostedAt);
        Assert.Equal(StorageTestKit.Alice, posted.ExpectedHandle);

        var claimed = new List<Job>();
        while (await queue.ClaimNextAsync() is { } job) claimed.Add(job);

        // By actual instant: an earlier instant written in +08:00 beats a later one written in UTC,
        // and microseconds count.
        Assert.Equal(
            ["r-offset", "r-naive-t", "r-space", "r-utc-z", "r-micro-early", "r-micro-late", "r-default-earlier", "r-default"],
            claimed.Select(j => j.Id));
        var byId = claimed.ToDictionary(j => j.Id);
        Assert.Equal(Utc(2020, 1, 1, 0, 30, 0), byId["r-offset"].NotBefore);
        Assert.Equal(Utc(2019, 12, 31, 15, 0, 0), byId["r-offset"].CreatedAt);
        Assert.Equal(Utc(2020, 1, 1, 0, 40, 0), byId["r-naive-t"].NotBefore);
        Assert.Equal(Utc(2020, 1, 1, 0, 45, 0, 250_000), byId["r-space"].NotBefore);
        Assert.Equal(Utc(2020, 1, 1, 1, 0, 0), byId["r-utc-z"].NotBefore);
        Assert.Equal(Utc(2020, 1, 1, 1, 0, 0, 100), byId["r-micro-early"].NotBefore);
        Assert.Equal(Utc(2019, 12, 31, 9, 30, 0, 123_456), byId["r-micro-early"].CreatedAt);
        Assert.Equal(Utc(2020, 1, 1, 1, 0, 0, 400), byId["r-micro-late"].NotBefore);
        Assert.Equal(StorageTestKit.Alice, byId["r-offset"].ExpectedHandle);
        Assert.Equal(StorageTestKit.Alice, byId["r-utc-z"].ExpectedHandle);
        Assert.Equal(StorageTestKit.Bob, byId["r-naive-t"].ExpectedHandle);
        Assert.Equal("carol.bsky.social", byId["r-default"].ExpectedHandle);
        Assert.All(claimed, j => Assert.Equal(JobStatus.InProgress, j.Status));
        Assert.All(claimed, j => Assert.True(RecordKeys.IsValid(j.RecordKey), $"{j.Id}: '{j.RecordKey}'"));
        Assert.Equal(claimed.Count, claimed.Select(j => j.RecordKey).Distinct().Count());

        // The rewritten times are the one canonical text form.
        Assert.Equal(DbTime.ToDb(Utc(2020, 1, 1, 0, 30, 0)), _db.Scalar("SELECT not_before FROM jobs WHERE id = 'r-offset';"));
        Assert.Equal(DbTime.ToDb(Utc(2020, 1, 1, 1, 0, 0, 400)), _db.Scalar("SELECT not_before FROM jobs WHERE id = 'r-micro-late';"));
        Assert.Equal(DbTime.ToDb(Utc(2020, 1, 2, 2, 0, 0)), _db.Scalar("SELECT posted_at FROM jobs WHERE id = 'r-posted';"));

        // The daily counter written by the other program is found under the normalised handle.
        clock.Set(new DateTimeOffset(2026, 12, 4, 12, 0, 0, TimeSpan.FromHours(8)));
        Assert.Equal(new DailyCount(3, 1), await queue.GetDailyCountAsync("@alice.bsky.social"));
    }

    [Fact]
    public async Task CardDdlDatabase_ClaimByHandle_MatchesMixedCaseAndAtPrefixedRows()
    {
        RunSqliteShell(_db.DbPath, Schema.CardDdl + "\n" + ForeignRows);
        using var queue = _db.Open(DayAhead());

        Assert.Equal("r-naive-t", (await StorageTestKit.ClaimAsync(queue, "@BOB.bsky.social")).Id);
        Assert.Equal("r-space", (await StorageTestKit.ClaimAsync(queue, StorageTestKit.Bob)).Id);
        Assert.Null(await queue.ClaimNextAsync(StorageTestKit.Bob));
        Assert.Equal("r-offset", (await StorageTestKit.ClaimAsync(queue, "Alice.Bsky.Social")).Id);
    }

    [Fact]
    public async Task CardDdlDatabase_DailyPostsDifferingOnlyInCase_AreMergedOnMigration()
    {
        RunSqliteShell(_db.DbPath, Schema.CardDdl + """

            INSERT INTO daily_posts (handle, date, post_count, reply_count) VALUES
                ('Alice.Bsky.Social', '2026-12-04', 2, 0),
                ('alice.bsky.social', '2026-12-04', 1, 1),
                ('@ALICE.bsky.social', '2026-12-04', 1, 0),
                ('Alice.Bsky.Social', '2026-12-03', 5, 0);
            """);
        var clock = new ManualClock(new DateTimeOffset(2026, 12, 4, 12, 0, 0, TimeSpan.FromHours(8)));
        using var queue = _db.Open(clock);

        Assert.Equal(new DailyCount(4, 1), await queue.GetDailyCountAsync(StorageTestKit.Alice));
        Assert.Equal(2L, _db.Count("SELECT COUNT(*) FROM daily_posts;"));
        clock.Set(new DateTimeOffset(2026, 12, 3, 12, 0, 0, TimeSpan.FromHours(8)));
        Assert.Equal(new DailyCount(5, 0), await queue.GetDailyCountAsync(StorageTestKit.Alice));
    }

    [Fact]
    public async Task MigratedDatabase_StaysReadableByTheSqliteShell()
    {
        using (var queue = _db.Open(new ManualClock(StorageTestKit.T0)))
        {
            await queue.EnqueueAsync(StorageTestKit.Post("one"));
            await queue.EnqueueAsync(StorageTestKit.Post("two"));
        }
        var shell = FindSqliteShell();
        if (shell is null) return; // nothing more to prove without the shell

        var info = new ProcessStartInfo(shell) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(_db.DbPath);
        info.ArgumentList.Add("SELECT COUNT(*) FROM jobs WHERE status = 'queued' AND not_before <= datetime('now');");
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(1)));
        Assert.Equal(0, process.ExitCode);
        Assert.Equal("2", (await output).Trim());
    }

    // ---- (b) rows another program inserts after the migration ----

    [Fact]
    public async Task AfterMigration_RowsInsertedByAnotherProgram_AreNormalisedByTriggers_AndClaimedInOrder()
    {
        var clock = new ManualClock(StorageTestKit.T0); // 2026-12-03T09:00Z
        using var queue = _db.Open(clock);
        var ours = await queue.EnqueueAsync(StorageTestKit.Post("ours", notBefore: StorageTestKit.T0.AddMinutes(-45))); // 08:15Z

        using (var other = _db.Connect())
        using (var insert = other.CreateCommand())
        {
            insert.CommandText = """
                INSERT INTO jobs (id, created_at, not_before, text, expected_handle) VALUES
                    ('x-offset', '2026-12-03T16:00:00.000250+08:00', '2026-12-03T16:10:00+08:00', 'offset', '@Alice.Bsky.Social'),
                    ('x-z',      '2026-12-03T07:00:00Z',             '2026-12-03T08:20:00Z',      'zulu',   'ALICE.BSKY.SOCIAL'),
                    ('x-future', '2026-12-03T07:00:00Z',             '2026-12-03T09:00:00.000001Z', 'future', 'alice.bsky.social');
                """;
            insert.ExecuteNonQuery();
        }

        Assert.Equal(DbTime.ToDb(Utc(2026, 12, 3, 8, 10, 0)), _db.Scalar("SELECT not_before FROM jobs WHERE id = 'x-offset';"));
        Assert.Equal(DbTime.ToDb(Utc(2026, 12, 3, 8, 0, 0, 250)), _db.Scalar("SELECT created_at FROM jobs WHERE id = 'x-offset';"));
        Assert.Equal(DbTime.ToDb(Utc(2026, 12, 3, 8, 20, 0)), _db.Scalar("SELECT not_before FROM jobs WHERE id = 'x-z';"));
        Assert.Equal(3L, _db.Count("SELECT COUNT(*) FROM jobs WHERE expected_handle = 'alice.bsky.social' AND id LIKE 'x-%';"));

        // 08:10Z (+08:00 form) before 08:15Z (ours) before 08:20Z; 09:00:00.000001Z is not yet due.
        var first = await StorageTestKit.ClaimAsync(queue, StorageTestKit.Alice);
        Assert.Equal("x-offset", first.Id);
        Assert.True(RecordKeys.IsValid(first.RecordKey)); // a foreign row gets its record key when claimed
        Assert.Equal(ours, (await StorageTestKit.ClaimAsync(queue)).Id);
        Assert.Equal("x-z", (await StorageTestKit.ClaimAsync(queue)).Id);
        Assert.Null(await queue.ClaimNextAsync());
        clock.Advance(TimeSpan.FromTicks(10));
        Assert.Equal("x-future", (await StorageTestKit.ClaimAsync(queue)).Id);
    }

    [Fact]
    public async Task AfterMigration_NotBeforeUpdatedByAnotherProgram_IsNormalised()
    {
        var clock = new ManualClock(StorageTestKit.T0);
        using var queue = _db.Open(clock);
        var id = await queue.EnqueueAsync(StorageTestKit.Post());

        using (var other = _db.Connect())
        using (var update = other.CreateCommand())
        {
            // The other program postpones the job to 18:00 Beijing time (10:00Z).
            update.CommandText = $"UPDATE jobs SET not_before = '2026-12-03T18:00:00.000007+08:00' WHERE id = '{id}';";
            update.ExecuteNonQuery();
        }

        var expected = Utc(2026, 12, 3, 10, 0, 0, 7);
        Assert.Equal(DbTime.ToDb(expected), _db.Scalar($"SELECT not_before FROM jobs WHERE id = '{id}';"));
        Assert.Equal(expected, (await StorageTestKit.GetAsync(queue, id)).NotBefore);
        Assert.Null(await queue.ClaimNextAsync()); // "18:00" > "09:00" as text; 10:00Z is later than now too
        clock.Set(expected);
        Assert.Equal(id, (await StorageTestKit.ClaimAsync(queue)).Id);
    }

    // ---- (c) an older schema version upgrades ----

    [Fact]
    public async Task Version2Database_WithRows_UpgradesToCurrent_AndGetsRecordKeys()
    {
        var clock = new ManualClock(StorageTestKit.T0);
        using (var connection = _db.Connect())
        {
            Assert.Equal(0, Schema.Migrate(connection, new RecordKeys(clock), 2));
            Assert.Equal(2, Schema.UserVersion(connection));
            using var insert = connection.CreateCommand();
            insert.CommandText = """
                INSERT INTO jobs (id, created_at, not_before, text, expected_handle, status, attempts, result_uri, result_url, posted_at, finished_at) VALUES
                    ('v2-a', '2026-12-03 08:00:00.000000', '2026-12-03 08:00:00.000000', 'a', 'alice.bsky.social', 'queued', 0, NULL, NULL, NULL, NULL),
                    ('v2-b', '2026-12-03 08:00:01.000000', '2026-12-03 08:00:01.000000', 'b', 'alice.bsky.social', 'queued', 1, NULL, NULL, NULL, NULL),
                    ('v2-c', '2026-12-03 07:00:00.000000', '2026-12-03 07:00:00.000000', 'c', 'bob.bsky.social', 'posted', 0,
                     'at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3kaaaaaaaaaa2', 'https://x', '2026-12-03 07:01:00.000000', '2026-12-03 07:01:00.000000');
                """;
            insert.ExecuteNonQuery();
            Assert.DoesNotContain("record_key", Columns(connection));
        }

        using var queue = _db.Open(clock);
        await queue.InitDbAsync();

        Assert.Equal((long)Schema.CurrentVersion, _db.Scalar("PRAGMA user_version;"));
        using (var connection = _db.Connect())
        {
            var columns = Columns(connection);
            Assert.Contains("claim_token", columns);
            Assert.Contains("record_key", columns);
            Assert.Contains("idempotency_key", columns);
        }
        var keys = new[] { "v2-a", "v2-b", "v2-c" }
            .Select(id => (string?)_db.Scalar($"SELECT record_key FROM jobs WHERE id = '{id}';")).ToList();
        Assert.All(keys, k => Assert.True(RecordKeys.IsValid(k), $"'{k}' is not a TID"));
        Assert.Equal(3, keys.Distinct().Count());

        var a = await StorageTestKit.ClaimAsync(queue);
        Assert.Equal("v2-a", a.Id);
        Assert.Equal(keys[0], a.RecordKey); // the backfilled key is the one the job keeps
        Assert.False(string.IsNullOrEmpty(a.ClaimToken));
        await queue.MarkPostedAsync(a.Id, StorageTestKit.Uri(a.RecordKey), "https://x", a.ClaimToken);
        Assert.Equal(1, (await StorageTestKit.GetAsync(queue, "v2-b")).Attempts);
        Assert.Equal(new QueueStats(1, 0, 2, 0), await queue.StatsAsync());
        var keyed = queue.Enqueue(StorageTestKit.Post("keyed", idempotencyKey: "k"));
        Assert.Equal(keyed with { Created = false }, queue.Enqueue(StorageTestKit.Post("keyed", idempotencyKey: "k")));
    }

    [Fact]
    public async Task DatabaseFromANewerVersion_IsRefusedWithAClearError()
    {
        using (var connection = _db.Connect())
        {
            Schema.Migrate(connection, new RecordKeys(TimeProvider.System));
            using var bump = connection.CreateCommand();
            bump.CommandText = $"PRAGMA user_version = {Schema.CurrentVersion + 1};";
            bump.ExecuteNonQuery();
        }
        using var queue = _db.Open();

        var e = await Assert.ThrowsAsync<QueueStorageException>(() => queue.InitDbAsync());

        Assert.Contains("version", e.Message);
        Assert.Contains(_db.DbPath, e.Message);
    }

    private static List<string> Columns(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT name FROM pragma_table_info('jobs');";
        using var reader = command.ExecuteReader();
        var names = new List<string>();
        while (reader.Read()) names.Add(reader.GetString(0));
        return names;
    }

    // ---- (d) storage errors name the file and the cause ----

    [Fact]
    public async Task FileThatIsNotSqlite_ThrowsQueueStorageExceptionNamingTheFile()
    {
        var content = string.Concat(Enumerable.Repeat("this is a text file, not a database\n", 200));
        await File.WriteAllTextAsync(_db.DbPath, content);
        using var queue = _db.Open();

        var e = await Assert.ThrowsAsync<QueueStorageException>(() => queue.InitDbAsync());
        Assert.Equal(_db.DbPath, e.DbPath);
        Assert.Contains(_db.DbPath, e.Message);
        Assert.Contains("not a SQLite database", e.Message);

        await Assert.ThrowsAsync<QueueStorageException>(() => queue.EnqueueAsync(StorageTestKit.Post()));
        await Assert.ThrowsAsync<QueueStorageException>(() => queue.ClaimNextAsync());
        Assert.Equal(content, await File.ReadAllTextAsync(_db.DbPath)); // left as it was
    }

    [Fact]
    public async Task PathWhoseFolderCannotBeCreated_ThrowsQueueStorageExceptionNamingThePath()
    {
        var blocker = _db.PathOf("a-regular-file");
        await File.WriteAllTextAsync(blocker, "in the way");
        var dbPath = Path.Combine(blocker, "sub", "queue.sqlite3");
        using var queue = new BlueskyQueue(dbPath);

        var e = await Assert.ThrowsAsync<QueueStorageException>(() => queue.InitDbAsync());
        Assert.Equal(dbPath, e.DbPath);
        Assert.Contains(dbPath, e.Message);
        Assert.Contains("folder", e.Message);

        await Assert.ThrowsAsync<QueueStorageException>(() => queue.EnqueueAsync(StorageTestKit.Post()));
        Assert.Equal("in the way", await File.ReadAllTextAsync(blocker));
    }

    [Fact]
    public async Task MissingFolder_IsCreated()
    {
        var dbPath = Path.Combine(_db.Folder, "deeper", "still", "queue.sqlite3");
        using var queue = new BlueskyQueue(dbPath);

        await queue.InitDbAsync();

        Assert.True(File.Exists(dbPath));
        Assert.Equal(dbPath, queue.DbPath);
        await queue.EnqueueAsync(StorageTestKit.Post());
    }

    [Fact]
    public async Task DatabaseHeldLockedPastTheBusyTimeout_ThrowsQueueStorageException_AndWritesNothing()
    {
        using var queue = _db.Open(new QueueSettings { BusyTimeout = TimeSpan.FromMilliseconds(200) });
        await queue.InitDbAsync();
        var existing = await queue.EnqueueAsync(StorageTestKit.Post("before the lock"));

        using (var holder = _db.Connect())
        {
            using (var begin = holder.CreateCommand())
            {
                begin.CommandText = "BEGIN IMMEDIATE;";
                begin.ExecuteNonQuery();
            }

            // Run on the pool and bound the wait, so a regression shows as a failure, not a hung run.
            var enqueue = Task.Run(() => queue.EnqueueAsync(StorageTestKit.Post("while locked")));
            var e = await Assert.ThrowsAsync<QueueStorageException>(() => enqueue.WaitAsync(TimeSpan.FromMinutes(1)));
            Assert.Contains("locked", e.Message);
            Assert.Contains(_db.DbPath, e.Message);
            Assert.Equal(_db.DbPath, e.DbPath);

            var claim = Task.Run(() => queue.ClaimNextAsync());
            Assert.Contains("locked",
                (await Assert.ThrowsAsync<QueueStorageException>(() => claim.WaitAsync(TimeSpan.FromMinutes(1)))).Message);

            using var rollback = holder.CreateCommand();
            rollback.CommandText = "ROLLBACK;";
            rollback.ExecuteNonQuery();
        }

        Assert.Equal(1, _db.Count());
        var job = await StorageTestKit.GetAsync(queue, existing);
        Assert.Equal(JobStatus.Queued, job.Status); // the failed claim took nothing
        await queue.EnqueueAsync(StorageTestKit.Post("after the lock")); // the queue works again
        Assert.Equal(2, _db.Count());
    }
}

/// <summary>Tests that change process-wide environment variables; they run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EnvironmentCollection
{
    public const string Name = "process environment";
}

[Collection(EnvironmentCollection.Name)]
public sealed class DefaultPathTests : IDisposable
{
    private readonly TempDb _db = new();
    private readonly string? _saved = Environment.GetEnvironmentVariable(BlueskyQueue.DbPathVariable);

    public void Dispose()
    {
        Environment.SetEnvironmentVariable(BlueskyQueue.DbPathVariable, _saved);
        _db.Dispose();
    }

    [Fact]
    public async Task DefaultPath_HonoursBlueskyQueueDbVariable()
    {
        Assert.Equal("BLUESKY_QUEUE_DB", BlueskyQueue.DbPathVariable);
        var fromEnv = Path.Combine(_db.Folder, "from-env", "queue.sqlite3");
        Environment.SetEnvironmentVariable("BLUESKY_QUEUE_DB", fromEnv);

        using var queue = new BlueskyQueue();
        Assert.Equal(fromEnv, queue.DbPath);
        await queue.EnqueueAsync(StorageTestKit.Post());
        Assert.True(File.Exists(fromEnv));

        // An explicit path beats the variable.
        using var explicitQueue = new BlueskyQueue(_db.DbPath);
        Assert.Equal(_db.DbPath, explicitQueue.DbPath);
    }

    [Fact]
    public void DefaultPath_WithoutVariable_IsUnderTheHomeFolder()
    {
        Environment.SetEnvironmentVariable("BLUESKY_QUEUE_DB", null);
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);

        using var queue = new BlueskyQueue(); // not opened: the real home folder is left alone
        Assert.Equal(Path.Combine(home, ".bluesky-poster", "queue.sqlite3"), queue.DbPath);
        Assert.Equal(queue.DbPath, BlueskyQueue.DefaultDbPath);
    }
}

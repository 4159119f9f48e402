using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Xunit;

namespace QueueActors.Storage.Tests;

/// <summary>
/// Regression tests of the review's findings: other programs writing the database the card's way
/// (claims and rows by raw SQL, unreadable times, text booleans, other handle spellings), schema
/// version 4, a database file deleted under an open queue, opening while another process writes,
/// and arguments the queue used to accept silently.
/// </summary>
public sealed partial class ForeignWriterTests : IDisposable
{
    private const string Handle = "alice.example.com";

    private readonly TempDb _db = new();

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _db.Dispose();
    }

    // ---- helpers ----

    /// <summary>Runs <paramref name="sql"/> on a connection of its own, as another program would.</summary>
    private int Foreign(string sql, params (string Name, object? Value)[] parameters)
    {
        using var connection = _db.Connect();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return command.ExecuteNonQuery();
    }

    private object? Raw(string column, string id) =>
        _db.Scalar($"SELECT {column} FROM jobs WHERE id = '{id}';");

    private static NewJob Post(string handle = Handle, string text = "hello", int maxAttempts = 3) =>
        new() { Text = text, ExpectedHandle = handle, MaxAttempts = maxAttempts };

    /// <summary>A minimal row another program inserts with the card's columns (handle already canonical, times canonical).</summary>
    private void InsertForeign(string id, string notBefore = "2026-12-03 08:00:00", string createdAt = "2026-12-03 08:00:00",
        string status = "queued", object? dryRun = null) =>
        Foreign(dryRun is null
                ? "INSERT INTO jobs (id, created_at, not_before, text, expected_handle, status) VALUES ($id, $c, $nb, 'foreign', $h, $s);"
                : "INSERT INTO jobs (id, created_at, not_before, text, expected_handle, status, dry_run) VALUES ($id, $c, $nb, 'foreign', $h, $s, $dry);",
            ("$id", id), ("$c", createdAt), ("$nb", notBefore), ("$h", Handle), ("$s", status), ("$dry", dryRun));

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?$")]
    private static partial Regex CanonicalTime();

    // ---- 1. another program's claim starts a fresh lease; our transitions leave no lease behind ----

    [Theory]
    [InlineData("retry")]
    [InlineData("stale")]
    public async Task ForeignClaim_OfAJobThatWasLeasedBefore_GetsAFreshLease_NotReclaimedAtOnce(string howItWasRequeued)
    {
        // The trigger stamps the foreign claim with SQLite's real 'now'; the queue's clock sits near the
        // real time for the sweep, and an hour before it for our own, earlier, claim.
        var clock = new ManualClock(DateTimeOffset.UtcNow.AddHours(-1));
        using var queue = _db.Open(clock);
        var id = await queue.EnqueueAsync(Post());
        var ours = await StorageTestKit.ClaimAsync(queue);
        Assert.Equal(id, ours.Id);
        if (howItWasRequeued == "retry")
        {
            await queue.MarkRetryAsync(id, "timeout talking to the PDS", clock.UtcNow, ours.ClaimToken);
        }
        else
        {
            clock.Advance(TimeSpan.FromSeconds(301));
            Assert.Equal([id], await queue.ClaimStaleJobsAsync());
        }
        Assert.Equal(JobStatus.Queued, (await StorageTestKit.GetAsync(queue, id)).Status);

        clock.Set(DateTimeOffset.UtcNow.AddMinutes(1));
        Assert.Equal(1, Foreign("UPDATE jobs SET status = 'in_progress' WHERE id = $id;", ("$id", id)));

        Assert.NotNull(Raw("claimed_at", id));
        Assert.Empty(await queue.ClaimStaleJobsAsync());
        var held = await StorageTestKit.GetAsync(queue, id);
        Assert.Equal(JobStatus.InProgress, held.Status);
        Assert.Equal(1, held.Attempts);

        // The lease is real: past the timeout, the sweep does take it back.
        clock.Advance(TimeSpan.FromMinutes(6));
        Assert.Equal([id], await queue.ClaimStaleJobsAsync());
    }

    [Fact]
    public async Task OurTransitions_LeaveClaimedAtNull_OnQueuedPostedAndFailedJobs()
    {
        var clock = new ManualClock(StorageTestKit.T0);
        using var queue = _db.Open(clock);

        // Reclaimed stale: back to queued, and failed when out of attempts.
        var staleQueued = await queue.EnqueueAsync(Post("stale-q.bsky.social"));
        var staleFailed = await queue.EnqueueAsync(Post("stale-f.bsky.social", maxAttempts: 1));
        await StorageTestKit.ClaimAsync(queue, "stale-q.bsky.social");
        await StorageTestKit.ClaimAsync(queue, "stale-f.bsky.social");
        clock.Advance(TimeSpan.FromSeconds(301));
        var swept = queue.ReclaimStale();
        Assert.Equal([staleQueued], swept.Requeued);
        Assert.Equal([staleFailed], swept.Failed);

        var retried = await queue.EnqueueAsync(Post("retry-q.bsky.social"));
        var c1 = await StorageTestKit.ClaimAsync(queue, "retry-q.bsky.social");
        await queue.MarkRetryAsync(retried, "later", clock.UtcNow.AddHours(1), c1.ClaimToken);

        var exhausted = await queue.EnqueueAsync(Post("retry-f.bsky.social", maxAttempts: 1));
        var c2 = await StorageTestKit.ClaimAsync(queue, "retry-f.bsky.social");
        await queue.MarkRetryAsync(exhausted, "again", clock.UtcNow.AddHours(1), c2.ClaimToken);

        var posted = await queue.EnqueueAsync(Post("posted.bsky.social"));
        var c3 = await StorageTestKit.ClaimAsync(queue, "posted.bsky.social");
        await queue.MarkPostedAsync(posted, StorageTestKit.Uri(c3.RecordKey), StorageTestKit.Url(c3.RecordKey), c3.ClaimToken);

        var failed = await queue.EnqueueAsync(Post("failed.bsky.social"));
        var c4 = await StorageTestKit.ClaimAsync(queue, "failed.bsky.social");
        await queue.MarkFailedAsync(failed, "suspended", c4.ClaimToken);

        var requeued = await queue.EnqueueAsync(Post("requeued.bsky.social"));
        await StorageTestKit.ClaimAsync(queue, "requeued.bsky.social");
        await queue.RequeueAsync(requeued);

        var expected = new Dictionary<string, JobStatus>
        {
            [staleQueued] = JobStatus.Queued,
            [staleFailed] = JobStatus.Failed,
            [retried] = JobStatus.Queued,
            [exhausted] = JobStatus.Failed,
            [posted] = JobStatus.Posted,
            [failed] = JobStatus.Failed,
            [requeued] = JobStatus.Queued,
        };
        foreach (var (id, status) in expected)
        {
            var job = await StorageTestKit.GetAsync(queue, id);
            Assert.Equal(status, job.Status);
            Assert.Null(job.ClaimedAt);
            Assert.Null(Raw("claimed_at", id));
        }
        Assert.Equal(0L, _db.Count("SELECT COUNT(*) FROM jobs WHERE status <> 'in_progress' AND claimed_at IS NOT NULL;"));
    }

    // ---- 2. unreadable times from other writers are refused; readable ones are normalised ----

    public static TheoryData<string> UnreadableTimes => new()
    {
        "1767261600.5",
        "2026-12-03 16:16:13-0500",
        "2026-12-03T19:16:13+0000",
        "2026-12-04 04:16:13 +0900",
        "2026-13-01 00:00:00",
    };

    [Theory]
    [MemberData(nameof(UnreadableTimes))]
    public async Task ForeignInsert_WithUnreadableNotBefore_IsRefusedNamingTheColumn_AndLeavesNoRow(string notBefore)
    {
        using (var queue = _db.Open(new ManualClock(StorageTestKit.T0))) await queue.InitDbAsync();

        var e = Assert.Throws<SqliteException>(() => InsertForeign("bad", notBefore));

        Assert.Contains("not_before", e.Message);
        Assert.Contains("unreadable time", e.Message);
        Assert.Equal(0L, _db.Count());
    }

    [Theory]
    [MemberData(nameof(UnreadableTimes))]
    public async Task ForeignInsert_WithUnreadableCreatedAt_IsRefusedNamingTheColumn_AndLeavesNoRow(string createdAt)
    {
        using (var queue = _db.Open(new ManualClock(StorageTestKit.T0))) await queue.InitDbAsync();

        var e = Assert.Throws<SqliteException>(() => InsertForeign("bad", createdAt: createdAt));

        Assert.Contains("created_at", e.Message);
        Assert.Contains("unreadable time", e.Message);
        Assert.Equal(0L, _db.Count());
    }

    [Theory]
    [MemberData(nameof(UnreadableTimes))]
    public async Task ForeignUpdate_OfNotBeforeToAnUnreadableTime_IsRefused_AndChangesNothing(string notBefore)
    {
        using var queue = _db.Open(new ManualClock(StorageTestKit.T0));
        var id = await queue.EnqueueAsync(Post());
        var before = Raw("not_before", id);

        var e = Assert.Throws<SqliteException>(() =>
            Foreign("UPDATE jobs SET not_before = $nb WHERE id = $id;", ("$nb", notBefore), ("$id", id)));

        Assert.Contains("not_before", e.Message);
        Assert.Contains("unreadable time", e.Message);
        Assert.Equal(before, Raw("not_before", id));
        Assert.Equal(StorageTestKit.T0, (await StorageTestKit.GetAsync(queue, id)).NotBefore);
    }

    [Theory]
    [InlineData("2026-12-03T19:16:13Z", "2026-12-03 19:16:13.000000")]
    [InlineData("2026-12-03T19:16:13.5Z", "2026-12-03 19:16:13.500000")]
    [InlineData("2026-12-04T03:16:13+08:00", "2026-12-03 19:16:13.000000")]
    [InlineData("2026-12-04 03:16:13.123456+08:00", "2026-12-03 19:16:13.123456")]
    [InlineData("2026-12-03T14:16:13-05:00", "2026-12-03 19:16:13.000000")]
    public async Task ForeignInsertAndUpdate_WithReadableTimes_AreAcceptedAndNormalised(string foreign, string canonical)
    {
        using var queue = _db.Open(new ManualClock(StorageTestKit.T0));
        await queue.InitDbAsync();

        InsertForeign("inserted", foreign, createdAt: foreign);
        var ours = await queue.EnqueueAsync(Post());
        Assert.Equal(1, Foreign("UPDATE jobs SET not_before = $nb WHERE id = $id;", ("$nb", foreign), ("$id", ours)));

        Assert.Equal(canonical, Raw("not_before", "inserted"));
        Assert.Equal(canonical, Raw("created_at", "inserted"));
        Assert.Equal(canonical, Raw("not_before", ours));
        var expected = DbTime.Parse(canonical);
        Assert.Equal(expected, (await StorageTestKit.GetAsync(queue, "inserted")).NotBefore);
        Assert.Equal(expected, (await StorageTestKit.GetAsync(queue, ours)).NotBefore);
    }

    [Fact]
    public async Task ForeignInsert_WithTheDefaultNotBefore_IsAcceptedCanonicalAndClaimable()
    {
        using (var queue = _db.Open(new ManualClock(StorageTestKit.T0))) await queue.InitDbAsync();

        Foreign("INSERT INTO jobs (id, created_at, text, expected_handle) VALUES ('default', datetime('now'), 'default', $h);",
            ("$h", Handle));

        Assert.Matches(CanonicalTime(), (string)Raw("not_before", "default")!);
        Assert.Matches(CanonicalTime(), (string)Raw("created_at", "default")!);
        using var dayAhead = _db.Open(new ManualClock(DateTimeOffset.UtcNow.AddDays(1)));
        Assert.Equal("default", (await StorageTestKit.ClaimAsync(dayAhead, Handle)).Id);
    }

    // ---- 3. migration to version 4 fails rows stored with unreadable times ----

    [Fact]
    public async Task Version3Database_WithUnreadableQueuedTimes_UpgradesTo4_FailingThoseRowsWithTheReason()
    {
        var clock = new ManualClock(StorageTestKit.T0);
        using (var connection = _db.Connect())
        {
            Assert.Equal(0, Schema.Migrate(connection, new RecordKeys(clock), 3));
            using var insert = connection.CreateCommand();
            // Version 3's triggers let these through unchanged.
            insert.CommandText = """
                INSERT INTO jobs (id, created_at, not_before, text, expected_handle, status) VALUES
                    ('bad-offset', '2026-12-03 07:00:00.000000', '2026-12-03 16:16:13-0500', 'a', 'alice.example.com', 'queued'),
                    ('bad-unix',   '2026-12-03 07:00:00.000000', '1767261600.5',             'b', 'alice.example.com', 'queued'),
                    ('bad-month',  '2026-12-03 07:00:00.000000', '2026-13-01 00:00:00',      'c', 'alice.example.com', 'queued'),
                    ('bad-create', '2026-12-03T07:00:00+0000',   '2026-12-03 07:00:00.000000', 'd', 'alice.example.com', 'queued'),
                    ('good',       '2026-12-03 08:00:00.000000', '2026-12-03 08:00:00.000000', 'e', 'alice.example.com', 'queued');
                """;
            insert.ExecuteNonQuery();
            Assert.Equal("1767261600.5", _db.Scalar("SELECT not_before FROM jobs WHERE id = 'bad-unix';"));
        }

        using var queue = _db.Open(clock);
        await queue.InitDbAsync();

        Assert.Equal((long)Schema.CurrentVersion, _db.Scalar("PRAGMA user_version;"));
        var bad = new Dictionary<string, string>
        {
            ["bad-offset"] = "2026-12-03 16:16:13-0500",
            ["bad-unix"] = "1767261600.5",
            ["bad-month"] = "2026-13-01 00:00:00",
            ["bad-create"] = "2026-12-03T07:00:00+0000",
        };
        foreach (var (id, value) in bad)
        {
            var job = await StorageTestKit.GetAsync(queue, id);
            Assert.Equal(JobStatus.Failed, job.Status);
            Assert.NotNull(job.LastError);
            Assert.Contains("unreadable time", job.LastError);
            Assert.Contains(value, job.LastError);
        }
        var listed = await queue.ListAsync(JobStatus.Failed);
        Assert.Equal(bad.Keys.Order(), listed.Select(j => j.Id).Order());
        Assert.Equal(5, (await queue.ListAsync()).Count);
        Assert.Equal(new QueueStats(1, 0, 0, 4), await queue.StatsAsync());

        var claimed = await StorageTestKit.ClaimAsync(queue);
        Assert.Equal("good", claimed.Id);
        Assert.Equal(JobStatus.InProgress, claimed.Status);
        Assert.Null(await queue.ClaimNextAsync());
    }

    [Fact]
    public async Task Version3Database_InProgressRowWithUnreadableTime_IsLeftToItsHolder_WhoCanStillReportIt()
    {
        var clock = new ManualClock(StorageTestKit.T0);
        using (var connection = _db.Connect())
        {
            Schema.Migrate(connection, new RecordKeys(clock), 3);
            using var insert = connection.CreateCommand();
            insert.CommandText = """
                INSERT INTO jobs (id, created_at, not_before, text, expected_handle, status, claimed_at, claim_token) VALUES
                    ('bad-claimed', '2026-12-03 07:00:00.000000', '1767261600.5', 'a', 'alice.example.com', 'in_progress',
                     '2026-12-03 08:59:00.000000', 'their-token');
                """;
            insert.ExecuteNonQuery();
        }

        using var queue = _db.Open(clock);
        var job = await StorageTestKit.GetAsync(queue, "bad-claimed");

        // Someone may be publishing it right now: failing it under them would make their report
        // fail and an operator's requeue post it again. Only queued rows are failed on upgrade.
        Assert.Equal(JobStatus.InProgress, job.Status);
        Assert.Equal("their-token", job.ClaimToken);
        await queue.MarkPostedAsync("bad-claimed", StorageTestKit.Uri("3kabc"), "https://x", "their-token");
        Assert.Equal(JobStatus.Posted, (await StorageTestKit.GetAsync(queue, "bad-claimed")).Status);
    }

    // ---- 4. the database file deleted under an open queue ----

    private void DeleteDatabaseFiles()
    {
        foreach (var suffix in new[] { "", "-wal", "-shm" })
            File.Delete(_db.DbPath + suffix);
        Assert.False(File.Exists(_db.DbPath));
    }

    [Fact]
    public async Task DatabaseFileDeletedUnderAnOpenQueue_NextWriteThrowsDisappeared_AndCreatesNoFile()
    {
        using var queue = _db.Open(new ManualClock(StorageTestKit.T0));
        await queue.EnqueueAsync(Post(text: "before"));
        DeleteDatabaseFiles();

        var e = await Assert.ThrowsAsync<QueueStorageException>(() => queue.EnqueueAsync(Post(text: "after")));

        Assert.Contains("disappeared", e.Message);
        Assert.Equal(_db.DbPath, e.DbPath);
        Assert.False(File.Exists(_db.DbPath), "the refused write created a new database file");
    }

    [Fact]
    public async Task DatabaseFileDeletedUnderAnOpenQueue_ARetriedWriteAlsoThrowsDisappeared_AndCreatesNoFile()
    {
        using var queue = _db.Open(new ManualClock(StorageTestKit.T0));
        await queue.EnqueueAsync(Post(text: "before"));
        DeleteDatabaseFiles();
        await Assert.ThrowsAsync<QueueStorageException>(() => queue.EnqueueAsync(Post(text: "after")));

        var e = await Assert.ThrowsAsync<QueueStorageException>(() => queue.EnqueueAsync(Post(text: "retried")));

        Assert.False(File.Exists(_db.DbPath), $"the retried write created a new database file (and failed with: {e.Message})");
        Assert.Contains("disappeared", e.Message);
    }

    // ---- 5. opening a current database needs no write lock ----

    [Fact]
    public async Task NewQueueInstance_OpensAndReadsStats_WhileAnotherConnectionHoldsBeginImmediate()
    {
        using (var first = _db.Open(new ManualClock(StorageTestKit.T0)))
            await first.EnqueueAsync(Post());

        using var writer = _db.Connect();
        using (var begin = writer.CreateCommand())
        {
            begin.CommandText = "BEGIN IMMEDIATE; INSERT INTO jobs (id, created_at, not_before, text, expected_handle) " +
                                "VALUES ('uncommitted', '2026-12-03 08:00:00', '2026-12-03 08:00:00', 'x', 'alice.example.com');";
            begin.ExecuteNonQuery();
        }
        try
        {
            // A short busy timeout: a regression (a write lock taken on open) fails in about a second instead of hanging.
            using var reader = _db.Open(new QueueSettings
            {
                TimeProvider = new ManualClock(StorageTestKit.T0),
                BusyTimeout = TimeSpan.FromMilliseconds(200),
            });

            Assert.Equal(new QueueStats(1, 0, 0, 0), await reader.StatsAsync());
        }
        finally
        {
            using var rollback = writer.CreateCommand();
            rollback.CommandText = "ROLLBACK;";
            rollback.ExecuteNonQuery();
        }
    }

    // ---- 6. dry_run written as text ----

    [Theory]
    [InlineData("true", true)]
    [InlineData("TRUE", true)]
    [InlineData("1", true)]
    [InlineData("false", false)]
    [InlineData("0", false)]
    public async Task ForeignRow_WithDryRunStoredAsText_ReadsAsThatBoolean(string stored, bool expected)
    {
        using var queue = _db.Open(new ManualClock(StorageTestKit.T0));
        await queue.InitDbAsync();
        InsertForeign("dry", dryRun: stored);

        Assert.Equal(expected, (await StorageTestKit.GetAsync(queue, "dry")).DryRun);
        Assert.Equal(expected, Assert.Single(await queue.ListAsync()).DryRun);
        Assert.Equal(expected, (await StorageTestKit.ClaimAsync(queue)).DryRun);
    }

    // ---- 7. a row inserted as in_progress gets a lease ----

    [Fact]
    public async Task ForeignRow_InsertedInProgress_GetsClaimedAt_AndIsReclaimedAfterTheStaleTimeout()
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        using var queue = _db.Open(clock);
        await queue.InitDbAsync();

        InsertForeign("theirs", status: "in_progress");

        Assert.NotNull(Raw("claimed_at", "theirs"));
        Assert.NotNull((await StorageTestKit.GetAsync(queue, "theirs")).ClaimedAt);
        clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Empty(await queue.ClaimStaleJobsAsync());
        clock.Advance(TimeSpan.FromMinutes(6));
        Assert.Equal(["theirs"], await queue.ClaimStaleJobsAsync());
        Assert.Equal(JobStatus.Queued, (await StorageTestKit.GetAsync(queue, "theirs")).Status);
    }

    // ---- 8. daily counters under other spellings ----

    [Fact]
    public async Task GetDailyCount_SumsForeignRowsUnderOtherSpellingsOfTheHandle_ForTodaysBeijingDate()
    {
        // 20:00 UTC on 3 December is 04:00 on 4 December in Beijing.
        var clock = new ManualClock(new DateTimeOffset(2026, 12, 3, 20, 0, 0, TimeSpan.Zero));
        using var queue = _db.Open(clock);
        Assert.Equal(new DailyCount(1, 0), queue.IncrementDaily(Handle));

        Foreign("""
            INSERT INTO daily_posts (handle, date, post_count, reply_count) VALUES
                ('@Alice.Example.com', '2026-12-04', 2, 1),
                ('ALICE.example.COM',  '2026-12-04', 3, 0),
                ('@alice.example.com', '2026-12-03', 50, 50),
                ('bob.example.com',    '2026-12-04', 7, 7);
            """);

        Assert.Equal(new DailyCount(6, 1), await queue.GetDailyCountAsync(Handle));
        Assert.Equal(new DailyCount(6, 1), await queue.GetDailyCountAsync("@Alice.Example.com"));
    }

    // ---- 9. a negative stale timeout (zero stays valid: it reclaims every job in progress) ----

    [Theory]
    [InlineData(-1L)]
    [InlineData(-3_000_000_000L)] // five minutes back
    public async Task ReclaimStale_WithNegativeTimeout_ThrowsArgumentOutOfRange_AndChangesNothing(long ticks)
    {
        var clock = new ManualClock(StorageTestKit.T0);
        using var queue = _db.Open(clock);
        await queue.EnqueueAsync(Post());
        var claimed = await StorageTestKit.ClaimAsync(queue);
        clock.Advance(TimeSpan.FromSeconds(1));
        var timeout = TimeSpan.FromTicks(ticks);

        Assert.Throws<ArgumentOutOfRangeException>(() => queue.ReclaimStale(timeout));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => queue.ClaimStaleJobsAsync(timeout));

        var job = await StorageTestKit.GetAsync(queue, claimed.Id);
        Assert.Equal(JobStatus.InProgress, job.Status);
        Assert.Equal(claimed.ClaimToken, job.ClaimToken);
        Assert.Equal(claimed.ClaimedAt, job.ClaimedAt);
        Assert.Equal(0, job.Attempts);
        Assert.Null(job.LastError);
    }

    // ---- 10. a relative image path ----

    [Fact]
    public async Task Enqueue_WithRelativeImagePath_StoresTheAbsolutePath()
    {
        using var queue = _db.Open(new ManualClock(StorageTestKit.T0));
        var image = _db.PathOf("picture.png");
        await File.WriteAllBytesAsync(image, [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0, 0, 0, 0]);
        var relative = Path.GetRelativePath(Directory.GetCurrentDirectory(), image);
        Assert.False(Path.IsPathRooted(relative), $"'{relative}' is not relative");

        var id = await queue.EnqueueAsync(Post() with { ImagePath = relative, ImageAlt = "a picture" });

        Assert.Equal(Path.GetFullPath(relative), (await StorageTestKit.GetAsync(queue, id)).ImagePath);
        Assert.Equal(image, Raw("image_path", id));
    }

    // ---- 11. invalid handles are refused, not matched against nothing ----

    [Theory]
    [InlineData("Alice.Example.com ")]
    [InlineData("not_a_handle")]
    public async Task ClaimNextAndStats_WithAnInvalidHandle_ThrowArgumentException(string handle)
    {
        using var queue = _db.Open(new ManualClock(StorageTestKit.T0));
        var id = await queue.EnqueueAsync(Post());

        await Assert.ThrowsAsync<ArgumentException>(() => queue.ClaimNextAsync(handle));
        await Assert.ThrowsAsync<ArgumentException>(() => queue.StatsAsync(handle));

        Assert.Equal(JobStatus.Queued, (await StorageTestKit.GetAsync(queue, id)).Status);
    }
}

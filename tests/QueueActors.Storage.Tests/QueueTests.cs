using System.Security.Cryptography;
using Xunit;

namespace QueueActors.Storage.Tests;

/// <summary>Shared builders for the storage tests: valid jobs, a valid reply target, claim helpers.</summary>
internal static class StorageTestKit
{
    public const string Alice = "alice.bsky.social";
    public const string Bob = "bob.bsky.social";

    /// <summary>2026-12-03T09:00:00Z: where the manual clocks of these tests start.</summary>
    public static readonly DateTimeOffset T0 = new(2026, 12, 3, 9, 0, 0, TimeSpan.Zero);

    public static NewJob Post(string text = "hello", string handle = Alice, DateTimeOffset? notBefore = null,
        int maxAttempts = 3, string? idempotencyKey = null) =>
        new()
        {
            Text = text,
            ExpectedHandle = handle,
            NotBefore = notBefore,
            MaxAttempts = maxAttempts,
            IdempotencyKey = idempotencyKey,
        };

    /// <summary>A canonical CIDv1 (dag-cbor, sha-256) in lower-case base32, as Bluesky returns them.</summary>
    public static string Cid(string seed)
    {
        var bytes = new byte[] { 0x01, 0x71, 0x12, 0x20 }.Concat(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(seed))).ToArray();
        const string alphabet = "abcdefghijklmnopqrstuvwxyz234567";
        var sb = new System.Text.StringBuilder("b");
        int buffer = 0, bits = 0;
        foreach (var b in bytes)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                sb.Append(alphabet[(buffer >> (bits - 5)) & 31]);
                bits -= 5;
            }
        }
        if (bits > 0) sb.Append(alphabet[(buffer << (5 - bits)) & 31]);
        return sb.ToString();
    }

    public static async Task<Job> ClaimAsync(BlueskyQueue queue, string? handle = null)
    {
        var job = await queue.ClaimNextAsync(handle);
        Assert.NotNull(job);
        return job;
    }

    public static async Task<Job> GetAsync(BlueskyQueue queue, string id)
    {
        var job = await queue.GetJobAsync(id);
        Assert.NotNull(job);
        return job;
    }

    /// <summary>
    /// Runs <paramref name="body"/> on <paramref name="count"/> dedicated threads released together
    /// (not pool threads, so a start barrier never waits for the pool to grow).
    /// </summary>
    public static async Task RunTogether(int count, Action<int> body)
    {
        using var barrier = new Barrier(count);
        var tasks = Enumerable.Range(0, count).Select(i => Task.Factory.StartNew(() =>
        {
            barrier.SignalAndWait();
            body(i);
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
        await Task.WhenAll(tasks); // the barrier is disposed only after every thread has passed it
    }

    public static string Uri(string rkey) => $"at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/{rkey}";

    public static string Url(string rkey) => $"https://bsky.app/profile/alice.bsky.social/post/{rkey}";
}

/// <summary>The card's first suite (功能测试): the queue's basic operations, plus the settled semantics of SPEC §3.</summary>
public sealed class QueueTests : IDisposable
{
    private readonly TempDb _db = new();
    private readonly ManualClock _clock = new(StorageTestKit.T0);
    private readonly BlueskyQueue _queue;

    public QueueTests()
    {
        _queue = _db.Open(_clock);
        _queue.InitDbAsync().GetAwaiter().GetResult();
    }

    public void Dispose()
    {
        _queue.Dispose();
        _db.Dispose();
    }

    private Task<string> Enqueue(string text = "hello", string handle = StorageTestKit.Alice,
        DateTimeOffset? notBefore = null, int maxAttempts = 3) =>
        _queue.EnqueueAsync(StorageTestKit.Post(text, handle, notBefore, maxAttempts));

    private string? RawStatus(string id) => _db.Scalar($"SELECT status FROM jobs WHERE id = '{id}';") as string;

    // ---- enqueue 返回有效的 UUID string ----

    [Fact]
    public async Task Enqueue_ReturnsValidUuidString()
    {
        var first = await Enqueue("one");
        var second = await Enqueue("two");

        Assert.True(Guid.TryParseExact(first, "D", out var guid), $"'{first}' is not a UUID");
        Assert.NotEqual(Guid.Empty, guid);
        Assert.True(Guid.TryParseExact(second, "D", out _));
        Assert.NotEqual(first, second);
        Assert.Equal(first, (await StorageTestKit.GetAsync(_queue, first)).Id);
        Assert.Equal(2, _db.Count());
    }

    [Fact]
    public async Task Enqueue_StoresJobQueuedWithItsFields()
    {
        var notBefore = StorageTestKit.T0.AddMinutes(5);
        var text = "héllo 👨‍👩‍👧 world\r\n  "; // stored byte for byte: no trim, no normalisation
        var cid = StorageTestKit.Cid("parent");
        var id = await _queue.EnqueueAsync(new NewJob
        {
            Text = text,
            ExpectedHandle = "@Alice.Bsky.Social",
            ReplyToUri = "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3kabcdefghij2",
            ReplyToCid = cid,
            NotBefore = notBefore,
            DryRun = true,
            MaxAttempts = 5,
        });

        var job = await StorageTestKit.GetAsync(_queue, id);
        Assert.Equal(text, job.Text);
        Assert.Equal(StorageTestKit.Alice, job.ExpectedHandle);
        Assert.Equal("at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3kabcdefghij2", job.ReplyToUri);
        Assert.Equal(cid, job.ReplyToCid);
        Assert.True(job.IsReply);
        Assert.True(job.DryRun);
        Assert.Equal(JobStatus.Queued, job.Status);
        Assert.Equal(0, job.Attempts);
        Assert.Equal(5, job.MaxAttempts);
        Assert.Equal(StorageTestKit.T0, job.CreatedAt);
        Assert.Equal(notBefore, job.NotBefore);
        Assert.Null(job.LastError);
        Assert.Null(job.ResultUri);
        Assert.Null(job.ResultUrl);
        Assert.Null(job.PostedAt);
        Assert.Null(job.ClaimToken);
        Assert.Null(job.ClaimedAt);
        Assert.Equal("queued", RawStatus(id));
    }

    [Fact]
    public async Task Enqueue_WithoutNotBefore_IsDueNow()
    {
        var id = await Enqueue();
        Assert.Equal(StorageTestKit.T0, (await StorageTestKit.GetAsync(_queue, id)).NotBefore);
        Assert.Equal(id, (await StorageTestKit.ClaimAsync(_queue)).Id);
    }

    // ---- claim_next 只返回 status='queued' 且 not_before <= now 的 job ----

    [Fact]
    public async Task ClaimNext_ReturnsOnlyQueuedJobsWhoseNotBeforeHasPassed()
    {
        var future = await Enqueue("future", notBefore: StorageTestKit.T0.AddSeconds(1));
        var posted = await Enqueue("posted", notBefore: StorageTestKit.T0.AddMinutes(-30));
        var failed = await Enqueue("failed", notBefore: StorageTestKit.T0.AddMinutes(-20));
        var inProgress = await Enqueue("in progress", notBefore: StorageTestKit.T0.AddMinutes(-10));

        // Take the first three out of 'queued' (they are due in this order).
        var p = await StorageTestKit.ClaimAsync(_queue);
        Assert.Equal(posted, p.Id);
        await _queue.MarkPostedAsync(p.Id, StorageTestKit.Uri("3kaaaaaaaaaa2"), StorageTestKit.Url("3kaaaaaaaaaa2"));
        var f = await StorageTestKit.ClaimAsync(_queue);
        Assert.Equal(failed, f.Id);
        await _queue.MarkFailedAsync(f.Id, "boom");
        Assert.Equal(inProgress, (await StorageTestKit.ClaimAsync(_queue)).Id);

        var due = await Enqueue("due now", notBefore: StorageTestKit.T0); // not_before == now is due
        var past = await Enqueue("due before", notBefore: StorageTestKit.T0.AddHours(-1));

        Assert.Equal(past, (await StorageTestKit.ClaimAsync(_queue)).Id);
        Assert.Equal(due, (await StorageTestKit.ClaimAsync(_queue)).Id);
        // Left: one posted, one failed, two in progress, one queued but not due.
        Assert.Null(await _queue.ClaimNextAsync());
        Assert.Equal(JobStatus.Queued, (await StorageTestKit.GetAsync(_queue, future)).Status);
    }

    // ---- claim_next 返回后 job.status 变为 'in_progress' ----

    [Fact]
    public async Task ClaimNext_ReturnedJobIsInProgress_InResultAndDatabase()
    {
        var id = await Enqueue();
        _clock.Advance(TimeSpan.FromSeconds(7));

        var job = await StorageTestKit.ClaimAsync(_queue);

        Assert.Equal(id, job.Id);
        Assert.Equal(JobStatus.InProgress, job.Status);
        Assert.Equal(StorageTestKit.T0.AddSeconds(7), job.ClaimedAt);
        Assert.False(string.IsNullOrEmpty(job.ClaimToken));
        Assert.Equal("in_progress", RawStatus(id));
        var stored = await StorageTestKit.GetAsync(_queue, id);
        Assert.Equal(JobStatus.InProgress, stored.Status);
        Assert.Equal(job.ClaimToken, stored.ClaimToken);
        Assert.Equal(job, stored);
    }

    // ---- mark_retry 增加 attempts 并设置 not_before ----

    [Fact]
    public async Task MarkRetry_IncrementsAttemptsAndSetsNotBefore()
    {
        var id = await Enqueue();
        await StorageTestKit.ClaimAsync(_queue);
        var retryAt = StorageTestKit.T0.AddMinutes(10);

        await _queue.MarkRetryAsync(id, "rate limited", retryAt);

        var job = await StorageTestKit.GetAsync(_queue, id);
        Assert.Equal(JobStatus.Queued, job.Status);
        Assert.Equal(1, job.Attempts);
        Assert.Equal(retryAt, job.NotBefore);
        Assert.Equal("rate limited", job.LastError);
        Assert.Null(job.ClaimToken);
        Assert.Equal("queued", RawStatus(id));
    }

    [Fact]
    public async Task MarkRetry_JobIsNotClaimableBeforeNewNotBefore_AndIsAfter()
    {
        var id = await Enqueue();
        await StorageTestKit.ClaimAsync(_queue);
        var retryAt = StorageTestKit.T0.AddMinutes(10);
        await _queue.MarkRetryAsync(id, "timeout", retryAt);

        Assert.Null(await _queue.ClaimNextAsync());
        _clock.Set(retryAt.AddTicks(-10)); // one microsecond early
        Assert.Null(await _queue.ClaimNextAsync());
        _clock.Set(retryAt);
        var again = await StorageTestKit.ClaimAsync(_queue);
        Assert.Equal(id, again.Id);
        Assert.Equal(1, again.Attempts);

        await _queue.MarkRetryAsync(id, "timeout again", retryAt.AddMinutes(1));
        Assert.Equal(2, (await StorageTestKit.GetAsync(_queue, id)).Attempts);
    }

    // ---- mark_posted 设置 result_uri/result_url/posted_at ----

    [Fact]
    public async Task MarkPosted_SetsResultUriResultUrlAndPostedAtToNow()
    {
        var id = await Enqueue();
        var claimed = await StorageTestKit.ClaimAsync(_queue);
        var postedAt = _clock.Advance(TimeSpan.FromSeconds(42.5));

        await _queue.MarkPostedAsync(id, StorageTestKit.Uri(claimed.RecordKey), StorageTestKit.Url(claimed.RecordKey));

        var job = await StorageTestKit.GetAsync(_queue, id);
        Assert.Equal(JobStatus.Posted, job.Status);
        Assert.Equal(StorageTestKit.Uri(claimed.RecordKey), job.ResultUri);
        Assert.Equal(StorageTestKit.Url(claimed.RecordKey), job.ResultUrl);
        Assert.Equal(postedAt, job.PostedAt);
        Assert.Equal(0, job.Attempts);
        Assert.Null(job.ClaimToken);
        Assert.Equal("posted", RawStatus(id));
        Assert.Equal(DbTime.ToDb(postedAt), _db.Scalar($"SELECT posted_at FROM jobs WHERE id = '{id}';"));
    }

    // ---- stats 返回所有状态的正确计数 ----

    [Fact]
    public async Task Stats_CountsEveryStatus()
    {
        Assert.Equal(new QueueStats(0, 0, 0, 0), await _queue.StatsAsync());

        for (int i = 0; i < 10; i++) await Enqueue($"job {i}", notBefore: StorageTestKit.T0.AddSeconds(-10 + i));
        await Enqueue("later", notBefore: StorageTestKit.T0.AddDays(1)); // queued, not due: still queued
        // 3 posted, 1 failed, 2 in progress, 4 + 1 queued
        for (int i = 0; i < 3; i++)
        {
            var j = await StorageTestKit.ClaimAsync(_queue);
            await _queue.MarkPostedAsync(j.Id, StorageTestKit.Uri($"3kaaaaaaaaa{i}2"), StorageTestKit.Url("x"));
        }
        var failed = await StorageTestKit.ClaimAsync(_queue);
        await _queue.MarkFailedAsync(failed.Id, "nope");
        await StorageTestKit.ClaimAsync(_queue);
        await StorageTestKit.ClaimAsync(_queue);

        Assert.Equal(new QueueStats(Queued: 5, InProgress: 2, Posted: 3, Failed: 1), await _queue.StatsAsync());
    }

    [Fact]
    public async Task Stats_PerHandle_IsCaseInsensitiveAndIgnoresLeadingAt()
    {
        await Enqueue("a1", StorageTestKit.Alice);
        await Enqueue("a2", "@ALICE.bsky.social");
        await Enqueue("a3", StorageTestKit.Alice);
        await Enqueue("b1", StorageTestKit.Bob);
        await Enqueue("b2", StorageTestKit.Bob);
        var a = await StorageTestKit.ClaimAsync(_queue, "Alice.Bsky.Social");
        await _queue.MarkPostedAsync(a.Id, StorageTestKit.Uri("3kaaaaaaaaaa2"), StorageTestKit.Url("x"));
        await StorageTestKit.ClaimAsync(_queue, StorageTestKit.Alice);
        var b = await StorageTestKit.ClaimAsync(_queue, StorageTestKit.Bob);
        await _queue.MarkFailedAsync(b.Id, "nope");

        var alice = new QueueStats(Queued: 1, InProgress: 1, Posted: 1, Failed: 0);
        Assert.Equal(alice, await _queue.StatsAsync(StorageTestKit.Alice));
        Assert.Equal(alice, await _queue.StatsAsync("@Alice.Bsky.Social"));
        Assert.Equal(alice, await _queue.StatsAsync("ALICE.BSKY.SOCIAL"));
        Assert.Equal(new QueueStats(1, 0, 0, 1), await _queue.StatsAsync("@bob.bsky.social"));
        Assert.Equal(new QueueStats(0, 0, 0, 0), await _queue.StatsAsync("carol.bsky.social"));
        Assert.Equal(new QueueStats(2, 1, 1, 1), await _queue.StatsAsync());
    }

    // ---- daily_posts 自动按北京日期累计 ----

    [Fact]
    public async Task DailyPosts_AccumulateByBeijingDate()
    {
        // 2026-12-03T17:00Z is 2026-12-04 01:00 in Beijing.
        _clock.Set(new DateTimeOffset(2026, 12, 3, 17, 0, 0, TimeSpan.Zero));
        await _queue.IncrementDailyAsync(StorageTestKit.Alice);
        await _queue.IncrementDailyAsync("@Alice.Bsky.Social");
        await _queue.IncrementDailyAsync(StorageTestKit.Alice, isReply: true);
        Assert.Equal(new DailyCount(2, 1), await _queue.GetDailyCountAsync(StorageTestKit.Alice));
        Assert.Equal(new DailyCount(2, 1), await _queue.GetDailyCountAsync("@ALICE.bsky.social"));

        // The row is keyed by the Beijing date, and only one row exists for the handle.
        Assert.Equal("2026-12-04", _db.Scalar("SELECT date FROM daily_posts WHERE handle = 'alice.bsky.social';"));
        Assert.Equal(1L, _db.Count("SELECT COUNT(*) FROM daily_posts;"));

        // Later the same Beijing day (2026-12-04 23:59:59 +08:00): the same counter.
        _clock.Set(new DateTimeOffset(2026, 12, 4, 15, 59, 59, TimeSpan.Zero));
        Assert.Equal(new DailyCount(2, 1), await _queue.GetDailyCountAsync(StorageTestKit.Alice));
        await _queue.IncrementDailyAsync(StorageTestKit.Alice, isReply: true);
        Assert.Equal(new DailyCount(2, 2), await _queue.GetDailyCountAsync(StorageTestKit.Alice));

        // The same UTC date 2026-12-03, but before Beijing midnight (2026-12-03 23:00 +08:00): another day.
        _clock.Set(new DateTimeOffset(2026, 12, 3, 15, 0, 0, TimeSpan.Zero));
        Assert.Equal(new DailyCount(0, 0), await _queue.GetDailyCountAsync(StorageTestKit.Alice));
        await _queue.IncrementDailyAsync(StorageTestKit.Alice);
        Assert.Equal(new DailyCount(1, 0), await _queue.GetDailyCountAsync(StorageTestKit.Alice));
        Assert.Equal("2026-12-03",
            _db.Scalar("SELECT date FROM daily_posts WHERE handle = 'alice.bsky.social' AND post_count = 1;"));

        // Other handles count on their own.
        Assert.Equal(new DailyCount(0, 0), await _queue.GetDailyCountAsync(StorageTestKit.Bob));
    }

    [Fact]
    public void IncrementDaily_ReturnsTheNewCount()
    {
        Assert.Equal(new DailyCount(1, 0), _queue.IncrementDaily(StorageTestKit.Alice));
        Assert.Equal(new DailyCount(1, 1), _queue.IncrementDaily(StorageTestKit.Alice, isReply: true));
    }

    // ---- Claim order, handles ----

    [Fact]
    public async Task ClaimNext_OrdersByNotBeforeThenCreatedAtThenInsertionOrder()
    {
        var t = StorageTestKit.T0;
        var j1 = await Enqueue("j1", notBefore: t.AddSeconds(-10));          // created t
        var j2 = await Enqueue("j2", notBefore: t.AddSeconds(-20));          // earliest not_before
        _clock.Set(t.AddSeconds(1));
        var j3 = await Enqueue("j3", notBefore: t.AddSeconds(-10));          // created t+1
        var j4 = await Enqueue("j4", notBefore: t.AddSeconds(-10));          // created t+1, inserted after j3
        _clock.Set(t.AddSeconds(-1));
        var j5 = await Enqueue("j5", notBefore: t.AddSeconds(-10));          // inserted last, created first
        _clock.Set(t.AddSeconds(1));

        var order = new List<string>();
        while (await _queue.ClaimNextAsync() is { } job) order.Add(job.Id);

        Assert.Equal([j2, j5, j1, j3, j4], order);
    }

    [Fact]
    public async Task ClaimNext_ByHandle_ClaimsOnlyThatHandlesJobs_CaseInsensitive()
    {
        var alice = await Enqueue("a", StorageTestKit.Alice, StorageTestKit.T0.AddMinutes(-5));
        var bob = await Enqueue("b", StorageTestKit.Bob, StorageTestKit.T0);

        Assert.Null(await _queue.ClaimNextAsync("carol.bsky.social"));
        var claimed = await StorageTestKit.ClaimAsync(_queue, "@BOB.Bsky.Social");
        Assert.Equal(bob, claimed.Id);
        Assert.Equal(StorageTestKit.Bob, claimed.ExpectedHandle);
        Assert.Null(await _queue.ClaimNextAsync(StorageTestKit.Bob));
        Assert.Equal(alice, (await StorageTestKit.ClaimAsync(_queue)).Id);
    }

    // ---- Strict transitions ----

    [Fact]
    public async Task Mark_UnknownJob_ThrowsJobNotFound()
    {
        const string missing = "00000000-0000-0000-0000-000000000000";
        var e1 = await Assert.ThrowsAsync<JobNotFoundException>(() => _queue.MarkPostedAsync(missing, "at://x", "https://x"));
        Assert.Equal(missing, e1.JobId);
        Assert.Contains(missing, e1.Message);
        Assert.IsAssignableFrom<KeyNotFoundException>(e1);
        await Assert.ThrowsAsync<JobNotFoundException>(() => _queue.MarkFailedAsync(missing, "e"));
        await Assert.ThrowsAsync<JobNotFoundException>(() => _queue.MarkRetryAsync(missing, "e", StorageTestKit.T0));
        await Assert.ThrowsAsync<JobNotFoundException>(() => _queue.RequeueAsync(missing));
        Assert.Null(await _queue.GetJobAsync(missing));
        Assert.Equal(0, _db.Count());
    }

    [Fact]
    public async Task Mark_JobNotInProgress_ThrowsInvalidJobStateNamingBothStates()
    {
        var id = await Enqueue();

        var e = await Assert.ThrowsAsync<InvalidJobStateException>(
            () => _queue.MarkPostedAsync(id, StorageTestKit.Uri("3kaaaaaaaaaa2"), "https://x"));
        Assert.IsAssignableFrom<InvalidOperationException>(e);
        Assert.Equal(id, e.JobId);
        Assert.Equal(JobStatus.InProgress, e.Expected);
        Assert.Equal(JobStatus.Queued, e.Actual);
        Assert.Contains("queued", e.Message);
        Assert.Contains("in_progress", e.Message);
        Assert.Contains(id, e.Message);

        var retry = await Assert.ThrowsAsync<InvalidJobStateException>(() => _queue.MarkRetryAsync(id, "e", StorageTestKit.T0));
        Assert.Equal(JobStatus.Queued, retry.Actual);
        var fail = await Assert.ThrowsAsync<InvalidJobStateException>(() => _queue.MarkFailedAsync(id, "e"));
        Assert.Equal(JobStatus.Queued, fail.Actual);

        // Nothing changed.
        var job = await StorageTestKit.GetAsync(_queue, id);
        Assert.Equal(JobStatus.Queued, job.Status);
        Assert.Equal(0, job.Attempts);
        Assert.Null(job.LastError);
        Assert.Null(job.ResultUri);

        // A failed job refuses a late success report, naming 'failed'.
        await StorageTestKit.ClaimAsync(_queue);
        await _queue.MarkFailedAsync(id, "gave up");
        var late = await Assert.ThrowsAsync<InvalidJobStateException>(
            () => _queue.MarkPostedAsync(id, StorageTestKit.Uri("3kaaaaaaaaaa2"), "https://x"));
        Assert.Equal(JobStatus.Failed, late.Actual);
        Assert.Contains("failed", late.Message);
        Assert.Contains("in_progress", late.Message);
        Assert.Equal(JobStatus.Failed, (await StorageTestKit.GetAsync(_queue, id)).Status);
    }

    [Fact]
    public async Task MarkPosted_ReplayedWithSameUri_IsNoOp_DifferentUri_Throws()
    {
        var id = await Enqueue();
        await StorageTestKit.ClaimAsync(_queue);
        await _queue.MarkPostedAsync(id, StorageTestKit.Uri("3kaaaaaaaaaa2"), StorageTestKit.Url("3kaaaaaaaaaa2"));
        var posted = await StorageTestKit.GetAsync(_queue, id);
        _clock.Advance(TimeSpan.FromMinutes(1));

        await _queue.MarkPostedAsync(id, StorageTestKit.Uri("3kaaaaaaaaaa2"), StorageTestKit.Url("3kaaaaaaaaaa2"));
        Assert.Equal(posted, await StorageTestKit.GetAsync(_queue, id)); // posted_at not moved

        var e = await Assert.ThrowsAsync<InvalidJobStateException>(
            () => _queue.MarkPostedAsync(id, StorageTestKit.Uri("3kbbbbbbbbbb2"), StorageTestKit.Url("3kbbbbbbbbbb2")));
        Assert.Equal(JobStatus.Posted, e.Actual);
        Assert.Equal(posted, await StorageTestKit.GetAsync(_queue, id));
    }

    // ---- MarkFailed, Requeue, Purge, List, GetJob ----

    [Fact]
    public async Task MarkFailed_SetsFailedWithErrorAndCountsTry()
    {
        var id = await Enqueue();
        await StorageTestKit.ClaimAsync(_queue);

        await _queue.MarkFailedAsync(id, "account suspended");

        var job = await StorageTestKit.GetAsync(_queue, id);
        Assert.Equal(JobStatus.Failed, job.Status);
        Assert.Equal("account suspended", job.LastError);
        Assert.Equal(1, job.Attempts);
        Assert.Null(job.ClaimToken);
        Assert.Null(job.PostedAt);
        _clock.Advance(TimeSpan.FromDays(1));
        Assert.Null(await _queue.ClaimNextAsync());
        Assert.Equal("failed", RawStatus(id));
    }

    [Fact]
    public async Task Requeue_PutsFailedJobBackDueNowWithAttemptsReset()
    {
        var id = await Enqueue(notBefore: StorageTestKit.T0);
        await StorageTestKit.ClaimAsync(_queue);
        await _queue.MarkFailedAsync(id, "bad");
        var now = _clock.Advance(TimeSpan.FromHours(2));

        var job = await _queue.RequeueAsync(id);

        Assert.Equal(JobStatus.Queued, job.Status);
        Assert.Equal(0, job.Attempts);
        Assert.Equal(now, job.NotBefore);
        Assert.Equal(job, await StorageTestKit.GetAsync(_queue, id));
        Assert.Equal(id, (await StorageTestKit.ClaimAsync(_queue)).Id);

        // An in-progress job may be requeued too; a queued or posted one may not.
        var requeued = await _queue.RequeueAsync(id);
        Assert.Null(requeued.ClaimToken);
        var e = await Assert.ThrowsAsync<InvalidJobStateException>(() => _queue.RequeueAsync(id));
        Assert.Equal(JobStatus.Queued, e.Actual);
        await StorageTestKit.ClaimAsync(_queue);
        await _queue.MarkPostedAsync(id, StorageTestKit.Uri("3kaaaaaaaaaa2"), "https://x");
        Assert.Equal(JobStatus.Posted,
            (await Assert.ThrowsAsync<InvalidJobStateException>(() => _queue.RequeueAsync(id))).Actual);
    }

    [Fact]
    public async Task Purge_DeletesFinishedJobsBeforeCutoffOnly()
    {
        var oldPosted = await Enqueue("old posted");
        var oldFailed = await Enqueue("old failed");
        var queued = await Enqueue("queued");
        await StorageTestKit.ClaimAsync(_queue);
        await _queue.MarkPostedAsync(oldPosted, StorageTestKit.Uri("3kaaaaaaaaaa2"), "https://x");
        await StorageTestKit.ClaimAsync(_queue);
        await _queue.MarkFailedAsync(oldFailed, "e");
        var inProgressId = await Enqueue("in progress", notBefore: StorageTestKit.T0.AddSeconds(-1));
        Assert.Equal(inProgressId, (await StorageTestKit.ClaimAsync(_queue)).Id);

        _clock.Advance(TimeSpan.FromDays(10));
        var recent = await Enqueue("recent");
        Assert.Equal(queued, (await StorageTestKit.ClaimAsync(_queue)).Id);
        await _queue.MarkPostedAsync(queued, StorageTestKit.Uri("3kbbbbbbbbbb2"), "https://x");

        int purged = await _queue.PurgeAsync(StorageTestKit.T0.AddDays(5));

        Assert.Equal(2, purged);
        Assert.Null(await _queue.GetJobAsync(oldPosted));
        Assert.Null(await _queue.GetJobAsync(oldFailed));
        Assert.NotNull(await _queue.GetJobAsync(queued));      // posted after the cutoff
        Assert.NotNull(await _queue.GetJobAsync(recent));      // queued
        Assert.NotNull(await _queue.GetJobAsync(inProgressId)); // in progress, however old
        Assert.Equal(3, _db.Count());
        Assert.Equal(0, await _queue.PurgeAsync(StorageTestKit.T0.AddDays(5)));
    }

    [Fact]
    public async Task List_FiltersByStatusAndHandle_InClaimOrder_WithLimit()
    {
        var a2 = await Enqueue("a2", StorageTestKit.Alice, StorageTestKit.T0.AddMinutes(2));
        var a1 = await Enqueue("a1", StorageTestKit.Alice, StorageTestKit.T0.AddMinutes(1));
        var b1 = await Enqueue("b1", StorageTestKit.Bob, StorageTestKit.T0.AddMinutes(-1));
        var a0 = await Enqueue("a0", StorageTestKit.Alice, StorageTestKit.T0.AddMinutes(-2));
        Assert.Equal(a0, (await StorageTestKit.ClaimAsync(_queue)).Id);

        Assert.Equal([a0, b1, a1, a2], (await _queue.ListAsync()).Select(j => j.Id));
        Assert.Equal([b1, a1, a2], (await _queue.ListAsync(JobStatus.Queued)).Select(j => j.Id));
        Assert.Equal([a1, a2], (await _queue.ListAsync(JobStatus.Queued, "@ALICE.bsky.social")).Select(j => j.Id));
        Assert.Equal([a0], (await _queue.ListAsync(JobStatus.InProgress)).Select(j => j.Id));
        Assert.Empty(await _queue.ListAsync(JobStatus.Posted));
        Assert.Equal([b1, a1], (await _queue.ListAsync(JobStatus.Queued, limit: 2)).Select(j => j.Id));
        Assert.All(await _queue.ListAsync(JobStatus.Queued), j => Assert.Equal(JobStatus.Queued, j.Status));
    }

    [Fact]
    public async Task GetJob_ReturnsStoredJob_OrNullForUnknownId()
    {
        var id = await Enqueue("find me");
        var job = await StorageTestKit.GetAsync(_queue, id);
        Assert.Equal("find me", job.Text);
        Assert.True(RecordKeys.IsValid(job.RecordKey));
        Assert.Null(await _queue.GetJobAsync(Guid.NewGuid().ToString()));
        Assert.Null(await _queue.GetJobAsync("not-a-uuid"));
    }

    // ---- Batches and rejected input ----

    [Fact]
    public async Task EnqueueMany_StoresAllJobsInOneGo()
    {
        var results = await _queue.EnqueueManyAsync([
            StorageTestKit.Post("one"), StorageTestKit.Post("two", StorageTestKit.Bob), StorageTestKit.Post("three")]);

        Assert.Equal(3, results.Count);
        Assert.All(results, r => Assert.True(r.Created));
        Assert.Equal(3, results.Select(r => r.Id).Distinct().Count());
        Assert.Equal(3, _db.Count());
        Assert.Equal(["one", "two", "three"], (await _queue.ListAsync()).Select(j => j.Text));
    }

    [Fact]
    public async Task EnqueueMany_OneInvalidJob_StoresNone()
    {
        await Enqueue("already there");

        var e = await Assert.ThrowsAsync<ArgumentException>(() => _queue.EnqueueManyAsync([
            StorageTestKit.Post("fine"),
            StorageTestKit.Post("bad handle", "not a handle"),
            StorageTestKit.Post("also fine")]));

        Assert.Equal(nameof(NewJob.ExpectedHandle), e.ParamName);
        Assert.Equal(1, _db.Count());
        Assert.Equal(new QueueStats(1, 0, 0, 0), await _queue.StatsAsync());

        await Assert.ThrowsAsync<ArgumentException>(() => _queue.EnqueueManyAsync([
            StorageTestKit.Post("fine"), StorageTestKit.Post("   ")]));
        Assert.Equal(1, _db.Count());
    }

    [Fact]
    public async Task EnqueueMany_WithIdempotencyKeys_MatchesExistingJobs()
    {
        var first = await _queue.EnqueueAsync(StorageTestKit.Post("keyed", idempotencyKey: "k-1"));

        var results = await _queue.EnqueueManyAsync([
            StorageTestKit.Post("keyed", idempotencyKey: "k-1"), StorageTestKit.Post("new", idempotencyKey: "k-2")]);

        Assert.Equal(new EnqueueResult(first, Created: false), results[0]);
        Assert.True(results[1].Created);
        Assert.Equal(2, _db.Count());
    }

    [Theory]
    [InlineData("", StorageTestKit.Alice, 3, nameof(NewJob.Text))]
    [InlineData("   ", StorageTestKit.Alice, 3, nameof(NewJob.Text))]
    [InlineData("hi", "alice", 3, nameof(NewJob.ExpectedHandle))]
    [InlineData("hi", "alice.example", 3, nameof(NewJob.ExpectedHandle))]
    [InlineData("hi", StorageTestKit.Alice, 0, nameof(NewJob.MaxAttempts))]
    public async Task Enqueue_RejectedJob_LeavesNoRow(string text, string handle, int maxAttempts, string param)
    {
        var e = await Assert.ThrowsAsync<ArgumentException>(
            () => _queue.EnqueueAsync(StorageTestKit.Post(text, handle, maxAttempts: maxAttempts)));

        Assert.Equal(param, e.ParamName);
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
        Assert.Equal(0, _db.Count());
        Assert.Equal(new QueueStats(0, 0, 0, 0), await _queue.StatsAsync());
    }

    [Fact]
    public async Task Enqueue_RejectedReplyOrImage_LeavesNoRow()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => _queue.EnqueueAsync(StorageTestKit.Post() with
        {
            ReplyToUri = "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3kabcdefghij2", // without a CID
        }));
        await Assert.ThrowsAsync<ArgumentException>(() => _queue.EnqueueAsync(StorageTestKit.Post() with
        {
            ImagePath = _db.PathOf("missing.png"),
        }));
        var notImage = _db.PathOf("notes.png");
        await File.WriteAllTextAsync(notImage, "this is text, not a PNG");
        await Assert.ThrowsAsync<ArgumentException>(() => _queue.EnqueueAsync(StorageTestKit.Post() with
        {
            ImagePath = notImage,
        }));

        Assert.Equal(0, _db.Count());
    }
}

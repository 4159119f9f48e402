using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Xunit;

namespace QueueActors.Storage.Tests;

/// <summary>Issue 6, publishing at most once: fenced leases, pre-assigned record keys, idempotent enqueue.</summary>
public sealed partial class LeaseTests : IDisposable
{
    private readonly TempDb _db = new();
    private readonly ManualClock _clock = new(StorageTestKit.T0);
    private readonly BlueskyQueue _queue;

    public LeaseTests()
    {
        _queue = _db.Open(_clock);
        _queue.InitDbAsync().GetAwaiter().GetResult();
    }

    public void Dispose()
    {
        _queue.Dispose();
        _db.Dispose();
    }

    [GeneratedRegex("^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")]
    private static partial Regex TidSyntax();

    /// <summary>Worker A claims, its lease expires, the job is reclaimed and claimed by worker B.</summary>
    private async Task<(Job A, Job B)> LoseLeaseToB()
    {
        await _queue.EnqueueAsync(StorageTestKit.Post());
        var a = await StorageTestKit.ClaimAsync(_queue);
        _clock.Advance(TimeSpan.FromSeconds(301));
        Assert.Equal([a.Id], await _queue.ClaimStaleJobsAsync());
        var b = await StorageTestKit.ClaimAsync(_queue);
        Assert.Equal(a.Id, b.Id);
        return (a, b);
    }

    // ---- Fenced leases ----

    [Fact]
    public async Task ClaimToken_IsFreshForEveryClaim_AndClearedWhenNotInProgress()
    {
        var id = await _queue.EnqueueAsync(StorageTestKit.Post());
        Assert.Null((await StorageTestKit.GetAsync(_queue, id)).ClaimToken);

        var tokens = new List<string>();
        for (int i = 0; i < 2; i++)
        {
            var job = await StorageTestKit.ClaimAsync(_queue);
            Assert.False(string.IsNullOrWhiteSpace(job.ClaimToken));
            Assert.Equal(job.ClaimToken, (await StorageTestKit.GetAsync(_queue, id)).ClaimToken);
            tokens.Add(job.ClaimToken!);
            await _queue.MarkRetryAsync(id, "again", _clock.UtcNow, job.ClaimToken);
            Assert.Null((await StorageTestKit.GetAsync(_queue, id)).ClaimToken);
        }
        var third = await StorageTestKit.ClaimAsync(_queue);
        tokens.Add(third.ClaimToken!);
        _clock.Advance(TimeSpan.FromMinutes(6));
        await _queue.ClaimStaleJobsAsync();
        Assert.Null((await StorageTestKit.GetAsync(_queue, id)).ClaimToken);

        Assert.Equal(3, tokens.Distinct().Count());
    }

    [Fact]
    public async Task ClaimWithAToken_RetriedWithTheSameToken_ReturnsTheSameJobAndClaimsNoOther()
    {
        var first = await _queue.EnqueueAsync(StorageTestKit.Post("first"));
        var second = await _queue.EnqueueAsync(StorageTestKit.Post("second"));
        var request = Guid.NewGuid().ToString("N");

        var claimed = await _queue.ClaimNextAsync(StorageTestKit.Alice, request);
        var retried = await _queue.ClaimNextAsync(StorageTestKit.Alice, request);

        Assert.Equal(first, claimed!.Id);
        Assert.Equal(request, claimed.ClaimToken);
        Assert.Equal(claimed.Id, retried!.Id);
        Assert.Equal(claimed.ClaimedAt, retried.ClaimedAt); // the lease was not restarted either
        Assert.Equal(JobStatus.Queued, (await StorageTestKit.GetAsync(_queue, second)).Status);
        Assert.Equal(second, (await _queue.ClaimNextAsync(StorageTestKit.Alice, Guid.NewGuid().ToString()))!.Id);
    }

    [Fact]
    public async Task ClaimWithAToken_RefusesATokenThatIsNotARandomGuid_AndNeverReturnsAnotherHandlesJob()
    {
        await _queue.EnqueueAsync(StorageTestKit.Post("alice's"));
        var request = Guid.NewGuid().ToString();
        Assert.Equal(StorageTestKit.Alice, (await _queue.ClaimNextAsync(StorageTestKit.Alice, request))!.ExpectedHandle);

        Assert.Null(await _queue.ClaimNextAsync(StorageTestKit.Bob, request));
        Assert.Throws<ArgumentException>(() => _queue.ClaimNextAsync(StorageTestKit.Alice, "worker-1").GetAwaiter().GetResult());
    }

    [Fact]
    public async Task AnotherProgramChangingTheStatus_DropsOurToken_SoNeitherARetriedClaimNorAFencedReportCanUseIt()
    {
        var id = await _queue.EnqueueAsync(StorageTestKit.Post("contested"));
        var request = Guid.NewGuid().ToString("N");
        Assert.Equal(id, (await _queue.ClaimNextAsync(StorageTestKit.Alice, request))!.Id);

        // The card's Python side: claim_stale_jobs puts it back, claim_next takes it, neither touching claim_token.
        _db.Scalar($"UPDATE jobs SET status = 'queued', attempts = attempts + 1 WHERE id = '{id}';");
        _db.Scalar($"UPDATE jobs SET status = 'in_progress' WHERE id = '{id}';");

        Assert.Null(await _queue.ClaimNextAsync(StorageTestKit.Alice, request));
        await Assert.ThrowsAsync<LeaseLostException>(() =>
            _queue.MarkPostedAsync(id, StorageTestKit.Uri("3kxyz"), "https://x", request));
        Assert.Equal(JobStatus.InProgress, (await StorageTestKit.GetAsync(_queue, id)).Status);
    }

    [Fact]
    public async Task LeaseExpired_ReclaimedAndClaimedByB_AsMarkPostedRefused_BsSucceeds_PostedOnce()
    {
        var (a, b) = await LoseLeaseToB();
        Assert.NotEqual(a.ClaimToken, b.ClaimToken);
        var before = await StorageTestKit.GetAsync(_queue, a.Id);

        var refused = await Assert.ThrowsAsync<LeaseLostException>(() =>
            _queue.MarkPostedAsync(a.Id, StorageTestKit.Uri("3kaaaaaaaaaa2"), StorageTestKit.Url("a"), a.ClaimToken));

        Assert.IsAssignableFrom<InvalidJobStateException>(refused);
        Assert.Equal(a.Id, refused.JobId);
        Assert.Equal(a.ClaimToken, refused.ClaimToken);
        Assert.Contains("lease", refused.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(before, await StorageTestKit.GetAsync(_queue, a.Id)); // nothing changed

        await _queue.MarkPostedAsync(b.Id, StorageTestKit.Uri(b.RecordKey), StorageTestKit.Url(b.RecordKey), b.ClaimToken);

        var job = await StorageTestKit.GetAsync(_queue, a.Id);
        Assert.Equal(JobStatus.Posted, job.Status);
        Assert.Equal(StorageTestKit.Uri(b.RecordKey), job.ResultUri);
        Assert.Equal(1, job.Attempts); // the expired lease was one failed try
        Assert.Equal(new QueueStats(0, 0, 1, 0), await _queue.StatsAsync());
        Assert.Equal(1, _db.Count());

        // A's late report after B posted is still refused and changes nothing.
        var late = await Assert.ThrowsAsync<LeaseLostException>(() =>
            _queue.MarkPostedAsync(a.Id, StorageTestKit.Uri("3kaaaaaaaaaa2"), StorageTestKit.Url("a"), a.ClaimToken));
        Assert.Equal(JobStatus.Posted, late.Actual);
        Assert.Equal(job, await StorageTestKit.GetAsync(_queue, a.Id));
    }

    [Fact]
    public async Task StaleToken_MarkFailedRetryAndExtendLease_AreRefused_AndChangeNothing()
    {
        var (a, b) = await LoseLeaseToB();
        var before = await StorageTestKit.GetAsync(_queue, a.Id);

        await Assert.ThrowsAsync<LeaseLostException>(() => _queue.MarkFailedAsync(a.Id, "A gives up", a.ClaimToken));
        await Assert.ThrowsAsync<LeaseLostException>(() =>
            _queue.MarkRetryAsync(a.Id, "A retries", _clock.UtcNow.AddHours(1), a.ClaimToken));
        await Assert.ThrowsAsync<LeaseLostException>(() => _queue.ExtendLeaseAsync(a.Id, a.ClaimToken!));

        Assert.Equal(before, await StorageTestKit.GetAsync(_queue, a.Id));

        // B's own calls go through.
        _clock.Advance(TimeSpan.FromSeconds(10));
        await _queue.ExtendLeaseAsync(b.Id, b.ClaimToken!);
        Assert.Equal(_clock.UtcNow, (await StorageTestKit.GetAsync(_queue, b.Id)).ClaimedAt);
        await _queue.MarkRetryAsync(b.Id, "B retries", _clock.UtcNow, b.ClaimToken);
        var c = await StorageTestKit.ClaimAsync(_queue);
        await _queue.MarkFailedAsync(c.Id, "C gives up", c.ClaimToken);
        var job = await StorageTestKit.GetAsync(_queue, a.Id);
        Assert.Equal(JobStatus.Failed, job.Status);
        Assert.Equal("C gives up", job.LastError);
    }

    [Fact]
    public async Task StaleToken_WhileJobIsQueuedAgain_IsRefusedAsLeaseLost()
    {
        await _queue.EnqueueAsync(StorageTestKit.Post());
        var a = await StorageTestKit.ClaimAsync(_queue);
        _clock.Advance(TimeSpan.FromMinutes(6));
        await _queue.ClaimStaleJobsAsync();

        var e = await Assert.ThrowsAsync<LeaseLostException>(() =>
            _queue.MarkPostedAsync(a.Id, StorageTestKit.Uri("3kaaaaaaaaaa2"), "https://x", a.ClaimToken));

        Assert.Equal(JobStatus.Queued, e.Actual);
        Assert.Equal(JobStatus.Queued, (await StorageTestKit.GetAsync(_queue, a.Id)).Status);
    }

    [Fact]
    public async Task ExtendLease_MovesClaimedAt_SoTheJobIsNotReclaimed()
    {
        var id = await _queue.EnqueueAsync(StorageTestKit.Post());
        var job = await StorageTestKit.ClaimAsync(_queue);
        Assert.Equal(StorageTestKit.T0, job.ClaimedAt);

        var extendedAt = _clock.Advance(TimeSpan.FromSeconds(200));
        await _queue.ExtendLeaseAsync(id, job.ClaimToken!);
        var extended = await StorageTestKit.GetAsync(_queue, id);
        Assert.Equal(extendedAt, extended.ClaimedAt);
        Assert.Equal(job.ClaimToken, extended.ClaimToken);

        _clock.Advance(TimeSpan.FromSeconds(200)); // 400 s after the claim, 200 s after the renewal
        Assert.Empty(await _queue.ClaimStaleJobsAsync());
        Assert.Equal(JobStatus.InProgress, (await StorageTestKit.GetAsync(_queue, id)).Status);

        _clock.Advance(TimeSpan.FromSeconds(101));
        Assert.Equal([id], await _queue.ClaimStaleJobsAsync());
    }

    [Fact]
    public async Task ExtendLease_RefusedForUnknownJobOrFinishedJob()
    {
        await Assert.ThrowsAsync<JobNotFoundException>(() => _queue.ExtendLeaseAsync(Guid.NewGuid().ToString(), "token"));
        var id = await _queue.EnqueueAsync(StorageTestKit.Post());
        var job = await StorageTestKit.ClaimAsync(_queue);
        await _queue.MarkPostedAsync(id, StorageTestKit.Uri(job.RecordKey), "https://x", job.ClaimToken);

        var e = await Assert.ThrowsAsync<LeaseLostException>(() => _queue.ExtendLeaseAsync(id, job.ClaimToken!));
        Assert.Equal(JobStatus.Posted, e.Actual);
    }

    [Fact]
    public async Task CallsWithoutToken_KeepTheOldBehaviour()
    {
        var (a, _) = await LoseLeaseToB();

        // No token: any in-progress job may be reported, whoever holds it.
        await _queue.MarkPostedAsync(a.Id, StorageTestKit.Uri(a.RecordKey), "https://x");
        Assert.Equal(JobStatus.Posted, (await StorageTestKit.GetAsync(_queue, a.Id)).Status);

        // No token on a job in the wrong state: the plain state error, not a lease error.
        var id = await _queue.EnqueueAsync(StorageTestKit.Post("queued"));
        var e = await Assert.ThrowsAsync<InvalidJobStateException>(() => _queue.MarkFailedAsync(id, "e"));
        Assert.IsNotType<LeaseLostException>(e);
        Assert.Equal(JobStatus.Queued, e.Actual);
    }

    [Fact]
    public async Task WrongTokenOnCurrentClaim_IsRefused()
    {
        var id = await _queue.EnqueueAsync(StorageTestKit.Post());
        await StorageTestKit.ClaimAsync(_queue);

        var e = await Assert.ThrowsAsync<LeaseLostException>(() =>
            _queue.MarkPostedAsync(id, StorageTestKit.Uri("3kaaaaaaaaaa2"), "https://x", "not-the-token"));

        Assert.Equal(JobStatus.InProgress, e.Actual);
        Assert.Equal(JobStatus.InProgress, (await StorageTestKit.GetAsync(_queue, id)).Status);
    }

    // ---- Pre-assigned record keys ----

    [Fact]
    public async Task RecordKey_HasTidSyntax()
    {
        var id = await _queue.EnqueueAsync(StorageTestKit.Post());
        var key = (await StorageTestKit.GetAsync(_queue, id)).RecordKey;

        Assert.Equal(13, key.Length);
        Assert.Matches(TidSyntax(), key);
        Assert.True(RecordKeys.IsValid(key));
        Assert.False(RecordKeys.IsValid("3kaaaaaaaaaa"));   // 12 characters
        Assert.False(RecordKeys.IsValid("3kaaaaaaaaaa1")); // '1' is not base32-sortable
        Assert.False(RecordKeys.IsValid("zkaaaaaaaaaa2")); // top bit set
    }

    [Fact]
    public async Task RecordKeys_AreUniqueAndStrictlyIncreasing_Over10000EnqueuesWithTheClockStandingStill()
    {
        using var fast = _db.Open(new QueueSettings { TimeProvider = _clock, Synchronous = SyncMode.Off });
        for (int i = 0; i < 10_000; i++)
            await fast.EnqueueAsync(StorageTestKit.Post($"burst {i}"));

        Assert.Equal(StorageTestKit.T0, _clock.UtcNow); // one instant: the whole burst is one millisecond
        var keys = RecordKeysInInsertionOrder();
        Assert.Equal(10_000, keys.Count);
        Assert.All(keys, k => Assert.Matches(TidSyntax(), k));
        for (int i = 1; i < keys.Count; i++)
            Assert.True(string.CompareOrdinal(keys[i - 1], keys[i]) < 0, $"key {i} '{keys[i]}' does not follow '{keys[i - 1]}'");
        Assert.Equal(keys.Count, keys.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public async Task RecordKeys_FromSeveralInstancesInTheSameInstant_AreUnique()
    {
        var queues = Enumerable.Range(0, 4)
            .Select(_ => _db.Open(new QueueSettings { TimeProvider = _clock, Synchronous = SyncMode.Off }))
            .ToList();
        try
        {
            await Task.WhenAll(queues.Select((q, n) => Task.Run(async () =>
            {
                for (int i = 0; i < 500; i++) await q.EnqueueAsync(StorageTestKit.Post($"q{n} job {i}"));
            })));

            var keys = RecordKeysInInsertionOrder();
            Assert.Equal(2_000, keys.Count);
            Assert.Equal(2_000, keys.Distinct(StringComparer.Ordinal).Count());
            Assert.All(keys, k => Assert.True(RecordKeys.IsValid(k)));
        }
        finally
        {
            foreach (var q in queues) q.Dispose();
        }
    }

    [Fact]
    public void RecordKeys_GeneratorIsStrictlyIncreasing_EvenWhenTheClockStepsBack()
    {
        var keys = new RecordKeys(_clock);
        var first = keys.Next();
        _clock.Advance(TimeSpan.FromSeconds(-5));
        var second = keys.Next();
        Assert.True(string.CompareOrdinal(first, second) < 0);
        _clock.Advance(TimeSpan.FromHours(1));
        var third = keys.Next();
        Assert.True(string.CompareOrdinal(second, third) < 0);
    }

    [Fact]
    public async Task RecordKey_IsStableAcrossClaimsRetriesReclaimsAndPosting()
    {
        var id = await _queue.EnqueueAsync(StorageTestKit.Post());
        var key = (await StorageTestKit.GetAsync(_queue, id)).RecordKey;

        var first = await StorageTestKit.ClaimAsync(_queue);
        Assert.Equal(key, first.RecordKey);
        await _queue.MarkRetryAsync(id, "retry", _clock.UtcNow, first.ClaimToken);
        Assert.Equal(key, (await StorageTestKit.GetAsync(_queue, id)).RecordKey);

        var second = await StorageTestKit.ClaimAsync(_queue);
        Assert.Equal(key, second.RecordKey);
        _clock.Advance(TimeSpan.FromMinutes(6));
        await _queue.ClaimStaleJobsAsync();
        Assert.Equal(key, (await StorageTestKit.GetAsync(_queue, id)).RecordKey);

        var third = await StorageTestKit.ClaimAsync(_queue);
        Assert.Equal(key, third.RecordKey);
        await _queue.MarkFailedAsync(id, "failed", third.ClaimToken);
        var requeued = await _queue.RequeueAsync(id);
        Assert.Equal(key, requeued.RecordKey);

        var fourth = await StorageTestKit.ClaimAsync(_queue);
        await _queue.MarkPostedAsync(id, StorageTestKit.Uri(fourth.RecordKey), "https://x", fourth.ClaimToken);
        var posted = await StorageTestKit.GetAsync(_queue, id);
        Assert.Equal(key, posted.RecordKey);
        Assert.Equal(StorageTestKit.Uri(key), posted.ResultUri);
    }

    private List<string> RecordKeysInInsertionOrder()
    {
        using var connection = _db.Connect();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT record_key FROM jobs ORDER BY rowid;";
        using var reader = command.ExecuteReader();
        var keys = new List<string>();
        while (reader.Read()) keys.Add(reader.GetString(0));
        return keys;
    }

    // ---- Idempotent enqueue ----

    [Fact]
    public async Task IdempotentEnqueue_SameKey_ReturnsSameIdAndAddsNoRow()
    {
        var first = _queue.Enqueue(StorageTestKit.Post("original", idempotencyKey: "import:posts.jsonl:1"));
        Assert.True(first.Created);
        _clock.Advance(TimeSpan.FromMinutes(1));

        var second = _queue.Enqueue(StorageTestKit.Post("original", idempotencyKey: "import:posts.jsonl:1"));
        var third = await _queue.EnqueueAsync(StorageTestKit.Post("original", idempotencyKey: "import:posts.jsonl:1"));

        Assert.Equal(new EnqueueResult(first.Id, Created: false), second);
        Assert.Equal(first.Id, third);
        Assert.Equal(1, _db.Count());
        var job = await StorageTestKit.GetAsync(_queue, first.Id);
        Assert.Equal("original", job.Text);                 // nothing changed
        Assert.Equal(StorageTestKit.Alice, job.ExpectedHandle);
        Assert.Equal(StorageTestKit.T0, job.CreatedAt);
        Assert.Equal("import:posts.jsonl:1", job.IdempotencyKey);

        // Still matched after the job was claimed and posted.
        var claimed = await StorageTestKit.ClaimAsync(_queue);
        await _queue.MarkPostedAsync(claimed.Id, StorageTestKit.Uri(claimed.RecordKey), "https://x", claimed.ClaimToken);
        Assert.Equal(first.Id, await _queue.EnqueueAsync(StorageTestKit.Post("original", idempotencyKey: "import:posts.jsonl:1")));
        Assert.Equal(1, _db.Count());
    }

    [Fact]
    public async Task IdempotentEnqueue_KeyReusedForADifferentJob_IsRefusedAndChangesNothing()
    {
        var first = await _queue.EnqueueAsync(StorageTestKit.Post("launch day! 🚀", idempotencyKey: "launch"));

        var e = Assert.Throws<ArgumentException>(() =>
            _queue.Enqueue(StorageTestKit.Post("a different post under the same key", idempotencyKey: "launch")));
        Assert.Equal(nameof(NewJob.IdempotencyKey), e.ParamName);
        Assert.Contains(first, e.Message);
        Assert.Equal(1, _db.Count());
        Assert.Equal("launch day! 🚀", (await StorageTestKit.GetAsync(_queue, first)).Text);
        await Assert.ThrowsAsync<ArgumentException>(() =>
            _queue.EnqueueAsync(StorageTestKit.Post("launch day! 🚀", StorageTestKit.Bob, idempotencyKey: "launch")));

        // Other keys, and no key, add rows.
        await _queue.EnqueueAsync(StorageTestKit.Post("other", idempotencyKey: "import:posts.jsonl:2"));
        await _queue.EnqueueAsync(StorageTestKit.Post("unkeyed"));
        await _queue.EnqueueAsync(StorageTestKit.Post("unkeyed"));
        Assert.Equal(4, _db.Count());
    }

    [Fact]
    public async Task IdempotentEnqueue_ConcurrentDuplicatesFromManyTasksAndInstances_LeaveOneRow()
    {
        var queues = Enumerable.Range(0, 4).Select(_ => _db.Open(_clock)).ToList();
        try
        {
            var results = new ConcurrentBag<EnqueueResult>();
            await StorageTestKit.RunTogether(32, worker =>
            {
                var q = queues[worker % queues.Count];
                for (int round = 0; round < 10; round++)
                {
                    results.Add(q.Enqueue(StorageTestKit.Post("the same job from every worker", idempotencyKey: "the-one")));
                    results.Add(q.Enqueue(StorageTestKit.Post($"round {round}", idempotencyKey: $"round-{round}")));
                }
            });

            Assert.Equal(4 * 8 * 10 * 2, results.Count);
            Assert.Equal(11, _db.Count());
            Assert.Equal(1L, _db.Count("SELECT COUNT(*) FROM jobs WHERE idempotency_key = 'the-one';"));
            var theOne = (string)_db.Scalar("SELECT id FROM jobs WHERE idempotency_key = 'the-one';")!;
            var forTheOne = results.Where(r => r.Id == theOne).ToList();
            Assert.Equal(4 * 8 * 10, forTheOne.Count);
            Assert.Single(forTheOne, r => r.Created);
            Assert.Equal(11, results.Count(r => r.Created));
            Assert.Equal(11, results.Select(r => r.Id).Distinct().Count());
        }
        finally
        {
            foreach (var q in queues) q.Dispose();
        }
    }
}

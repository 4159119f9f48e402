using Akka.Actor;
using QueueActors.Storage;
using Xunit;
using Xunit.Abstractions;

namespace QueueActors.Tests;

/// <summary>Every message of the protocol and its reply, and every error code, through the <see cref="QueueManager"/>.</summary>
public sealed class ProtocolTests(ITestOutputHelper output) : QueueTestKit(output)
{
    private const string Uri = "at://did:plc:abcdefghijklmnopqrstuvwx/app.bsky.feed.post/3kabcdefghij2";
    private const string Url = "https://bsky.app/profile/alice.bsky.social/post/3kabcdefghij2";

    // ---- Replies ----

    [Fact]
    public async Task ClaimNext_sent_again_with_the_same_request_id_is_answered_with_the_same_job()
    {
        var manager = StartManager();
        var first = await Enqueue(manager, JobFor(Alice, "first"));
        var second = await Enqueue(manager, JobFor(Alice, "second"));

        var request = Guid.NewGuid().ToString("N");
        var claimed = (await Ask<JobClaimed>(manager, new ClaimNext(Alice, request))).Job;
        var again = (await Ask<JobClaimed>(manager, new ClaimNext(Alice, request))).Job;

        Assert.Equal(first, claimed?.Id);
        Assert.Equal(first, again?.Id);
        Assert.Equal(JobStatus.Queued, (await GetJob(manager, second)).Status);
    }

    [Fact]
    public async Task Enqueue_is_answered_Enqueued_with_the_id_of_a_queued_job()
    {
        var manager = StartManager();

        var enqueued = await Ask<Enqueued>(manager, new Enqueue(JobFor("@Alice.Bsky.Social", "first post")));

        Assert.True(enqueued.Created);
        var job = await GetJob(manager, enqueued.JobId);
        Assert.Equal(JobStatus.Queued, job.Status);
        Assert.Equal(Alice, job.ExpectedHandle);
        Assert.Equal("first post", job.Text);
    }

    [Fact]
    public async Task Enqueue_with_a_used_idempotency_key_is_answered_with_the_first_job_and_Created_false()
    {
        var manager = StartManager();
        var job = JobFor(Alice) with { IdempotencyKey = "post-42" };

        var first = await Ask<Enqueued>(manager, new Enqueue(job));
        var second = await Ask<Enqueued>(manager, new Enqueue(job));

        Assert.True(first.Created);
        Assert.False(second.Created);
        Assert.Equal(first.JobId, second.JobId);
        Assert.Equal(new QueueStats(1, 0, 0, 0), await Ask<QueueStats>(manager, new GetStats()));
    }

    [Fact]
    public async Task ClaimNext_is_answered_JobClaimed_with_the_job_in_progress_and_a_claim_token()
    {
        var manager = StartManager();
        var id = await Enqueue(manager, JobFor(Alice));

        var claimed = await Ask<JobClaimed>(manager, new ClaimNext(Alice));

        Assert.NotNull(claimed.Job);
        Assert.Equal(id, claimed.Job.Id);
        Assert.Equal(JobStatus.InProgress, claimed.Job.Status);
        Assert.False(string.IsNullOrEmpty(claimed.Job.ClaimToken));
        Assert.Equal(Clock.GetUtcNow(), claimed.Job.ClaimedAt);
    }

    [Fact]
    public async Task ClaimNext_with_nothing_due_is_answered_JobClaimed_null()
    {
        var manager = StartManager();
        await Enqueue(manager, JobFor(Bob));
        await Enqueue(manager, JobFor(Alice) with { NotBefore = Clock.GetUtcNow().AddHours(1) });

        var claimed = await Ask<JobClaimed>(manager, new ClaimNext(Alice));

        Assert.Null(claimed.Job);
    }

    [Fact]
    public async Task ClaimNext_without_a_handle_claims_a_job_of_any_handle()
    {
        var manager = StartManager();
        var id = await Enqueue(manager, JobFor(Bob));

        var claimed = await Ask<JobClaimed>(manager, new ClaimNext());

        Assert.Equal(id, claimed.Job?.Id);
        Assert.Null((await Ask<JobClaimed>(manager, new ClaimNext())).Job);
    }

    [Fact]
    public async Task MarkPosted_is_answered_JobUpdated_Posted()
    {
        var manager = StartManager();
        var job = await EnqueueAndClaim(manager);

        var updated = await Ask<JobUpdated>(manager, new MarkPosted(job.Id, Uri, Url, job.ClaimToken));

        Assert.Equal(new JobUpdated(job.Id, JobStatus.Posted), updated);
        var stored = await GetJob(manager, job.Id);
        Assert.Equal(Uri, stored.ResultUri);
        Assert.Equal(Url, stored.ResultUrl);
        Assert.Null(stored.ClaimToken);
    }

    [Fact]
    public async Task MarkPosted_replayed_with_the_same_uri_is_answered_Posted_again()
    {
        var manager = StartManager();
        var job = await EnqueueAndClaim(manager);
        await Ask<JobUpdated>(manager, new MarkPosted(job.Id, Uri, Url));

        var replay = await Ask<JobUpdated>(manager, new MarkPosted(job.Id, Uri, Url));

        Assert.Equal(JobStatus.Posted, replay.Status);
    }

    [Fact]
    public async Task MarkFailed_is_answered_JobUpdated_Failed()
    {
        var manager = StartManager();
        var job = await EnqueueAndClaim(manager);

        var updated = await Ask<JobUpdated>(manager, new MarkFailed(job.Id, "the account is suspended", job.ClaimToken));

        Assert.Equal(new JobUpdated(job.Id, JobStatus.Failed), updated);
        var stored = await GetJob(manager, job.Id);
        Assert.Equal("the account is suspended", stored.LastError);
        Assert.Equal(1, stored.Attempts);
    }

    [Fact]
    public async Task MarkRetry_with_attempts_left_is_answered_JobUpdated_Queued()
    {
        var manager = StartManager();
        var job = await EnqueueAndClaim(manager);
        var later = Clock.GetUtcNow().AddMinutes(10);

        var updated = await Ask<JobUpdated>(manager, new MarkRetry(job.Id, "rate limited", later, job.ClaimToken));

        Assert.Equal(new JobUpdated(job.Id, JobStatus.Queued), updated);
        var stored = await GetJob(manager, job.Id);
        Assert.Equal(later, stored.NotBefore);
        Assert.Equal(1, stored.Attempts);
    }

    [Fact]
    public async Task MarkRetry_of_the_last_attempt_is_answered_JobUpdated_Failed()
    {
        var manager = StartManager();
        var job = await EnqueueAndClaim(manager, JobFor(Alice) with { MaxAttempts = 1 });

        var updated = await Ask<JobUpdated>(manager, new MarkRetry(job.Id, "rate limited", Clock.GetUtcNow()));

        Assert.Equal(new JobUpdated(job.Id, JobStatus.Failed), updated);
    }

    [Fact]
    public async Task ExtendLease_is_answered_JobUpdated_InProgress_and_renews_the_claim_time()
    {
        var manager = StartManager();
        var job = await EnqueueAndClaim(manager);
        var renewedAt = Clock.Advance(TimeSpan.FromSeconds(200));

        var updated = await Ask<JobUpdated>(manager, new ExtendLease(job.Id, job.ClaimToken!));

        Assert.Equal(new JobUpdated(job.Id, JobStatus.InProgress), updated);
        Assert.Equal(renewedAt, (await GetJob(manager, job.Id)).ClaimedAt);
    }

    [Fact]
    public async Task GetStats_is_answered_QueueStats_of_all_handles_or_of_one()
    {
        var manager = StartManager();
        await Enqueue(manager, JobFor(Alice));
        await Enqueue(manager, JobFor(Alice));
        await Enqueue(manager, JobFor(Bob));
        var job = await Ask<JobClaimed>(manager, new ClaimNext(Alice));
        await Ask<JobUpdated>(manager, new MarkPosted(job.Job!.Id, Uri, Url));
        await Ask<JobClaimed>(manager, new ClaimNext(Bob));

        Assert.Equal(new QueueStats(1, 1, 1, 0), await Ask<QueueStats>(manager, new GetStats()));
        Assert.Equal(new QueueStats(1, 0, 1, 0), await Ask<QueueStats>(manager, new GetStats("@ALICE.bsky.social")));
        Assert.Equal(new QueueStats(0, 1, 0, 0), await Ask<QueueStats>(manager, new GetStats(Bob)));
    }

    [Fact]
    public async Task GetDailyCount_of_a_new_day_is_answered_zero()
    {
        var manager = StartManager();

        Assert.Equal(new DailyCount(0, 0), await Ask<DailyCount>(manager, new GetDailyCount(Alice)));
    }

    [Fact]
    public async Task IncrementDaily_is_answered_with_the_new_DailyCount()
    {
        var manager = StartManager();

        Assert.Equal(new DailyCount(1, 0), await Ask<DailyCount>(manager, new IncrementDaily(Alice)));
        Assert.Equal(new DailyCount(1, 1), await Ask<DailyCount>(manager, new IncrementDaily(Alice, IsReply: true)));
        Assert.Equal(new DailyCount(2, 1), await Ask<DailyCount>(manager, new IncrementDaily("@Alice.bsky.social")));
        Assert.Equal(new DailyCount(2, 1), await Ask<DailyCount>(manager, new GetDailyCount(Alice)));
        Assert.Equal(new DailyCount(0, 0), await Ask<DailyCount>(manager, new GetDailyCount(Bob)));
    }

    [Fact]
    public async Task ReclaimStale_is_answered_StaleReclaimed_with_requeued_and_exhausted_ids()
    {
        var manager = StartManager();
        var retried = await EnqueueAndClaim(manager);
        var exhausted = await EnqueueAndClaim(manager, JobFor(Bob) with { MaxAttempts = 1 });
        Clock.Advance(TimeSpan.FromSeconds(301));

        var reclaimed = await Ask<StaleReclaimed>(manager, new ReclaimStale());

        Assert.Equal([retried.Id], reclaimed.JobIds);
        Assert.Equal([exhausted.Id], reclaimed.FailedJobIds);
        Assert.Equal(JobStatus.Queued, (await GetJob(manager, retried.Id)).Status);
        Assert.Equal(JobStatus.Failed, (await GetJob(manager, exhausted.Id)).Status);
    }

    [Fact]
    public async Task ReclaimStale_with_its_own_timeout_overrides_the_service_stale_timeout()
    {
        var manager = StartManager();
        var job = await EnqueueAndClaim(manager);
        Clock.Advance(TimeSpan.FromSeconds(61));

        Assert.Empty((await Ask<StaleReclaimed>(manager, new ReclaimStale())).JobIds);
        Assert.Equal([job.Id], (await Ask<StaleReclaimed>(manager, new ReclaimStale(TimeSpan.FromSeconds(60)))).JobIds);
    }

    [Fact]
    public async Task ReclaimStale_with_a_negative_timeout_is_answered_validation_and_reclaims_nothing()
    {
        var manager = StartManager();
        var job = await EnqueueAndClaim(manager);
        Clock.Advance(TimeSpan.FromSeconds(1));

        await AskError(manager, new ReclaimStale(TimeSpan.FromSeconds(-300)), QueueErrorCodes.Validation);

        var stored = await GetJob(manager, job.Id);
        Assert.Equal(JobStatus.InProgress, stored.Status);
        Assert.Equal(job.ClaimToken, stored.ClaimToken);
        Assert.Equal(0, stored.Attempts);
    }

    [Fact]
    public async Task GetJob_is_answered_JobInfo_with_the_job_or_null()
    {
        var manager = StartManager();
        var id = await Enqueue(manager, JobFor(Alice, "read me back"));

        Assert.Equal("read me back", (await Ask<JobInfo>(manager, new GetJob(id))).Job?.Text);
        Assert.Null((await Ask<JobInfo>(manager, new GetJob(Guid.NewGuid().ToString()))).Job);
    }

    [Fact]
    public async Task Requests_of_one_handle_pipelined_by_one_sender_are_answered_in_order_and_reads_see_earlier_writes()
    {
        var manager = StartManager();
        var client = CreateTestProbe();

        // Claims take one more hop (the handle's QueueActor answers them), so they are left out here.
        client.Send(manager, new Enqueue(JobFor(Alice)));
        client.Send(manager, new IncrementDaily(Alice));
        client.Send(manager, new GetDailyCount(Alice));
        client.Send(manager, new IncrementDaily(Alice, IsReply: true));
        client.Send(manager, new GetDailyCount(Alice));

        Assert.True((await client.ExpectMsgAsync<Enqueued>(AskTimeout)).Created);
        Assert.Equal(new DailyCount(1, 0), await client.ExpectMsgAsync<DailyCount>(AskTimeout));
        Assert.Equal(new DailyCount(1, 0), await client.ExpectMsgAsync<DailyCount>(AskTimeout));
        Assert.Equal(new DailyCount(1, 1), await client.ExpectMsgAsync<DailyCount>(AskTimeout));
        Assert.Equal(new DailyCount(1, 1), await client.ExpectMsgAsync<DailyCount>(AskTimeout));
    }

    [Fact]
    public async Task Job_requests_pipelined_by_one_sender_are_answered_in_order_and_reads_see_earlier_writes()
    {
        var manager = StartManager();
        var client = CreateTestProbe();
        var job = await EnqueueAndClaim(manager);

        client.Send(manager, new MarkPosted(job.Id, Uri, Url, job.ClaimToken));
        client.Send(manager, new GetJob(job.Id));
        client.Send(manager, new GetStats(Alice));

        Assert.Equal(JobStatus.Posted, (await client.ExpectMsgAsync<JobUpdated>(AskTimeout)).Status);
        Assert.Equal(JobStatus.Posted, (await client.ExpectMsgAsync<JobInfo>(AskTimeout)).Job?.Status);
        Assert.Equal(new QueueStats(0, 0, 1, 0), await client.ExpectMsgAsync<QueueStats>(AskTimeout));
    }

    // ---- Errors ----

    [Fact]
    public async Task Enqueue_of_an_invalid_job_is_answered_validation_and_stores_nothing()
    {
        var manager = StartManager();

        var error = await AskError(manager, new Enqueue(JobFor(Alice, "   ")), QueueErrorCodes.Validation);

        Assert.Contains("text", error.Message);
        Assert.Equal(new QueueStats(0, 0, 0, 0), await Ask<QueueStats>(manager, new GetStats()));
    }

    [Fact]
    public async Task Enqueue_with_an_invalid_handle_is_answered_validation_and_stores_nothing()
    {
        var manager = StartManager();

        var error = await AskError(manager, new Enqueue(JobFor("not a handle")), QueueErrorCodes.Validation);

        Assert.Contains("expected_handle", error.Message);
        Assert.Equal(new QueueStats(0, 0, 0, 0), await Ask<QueueStats>(manager, new GetStats()));
    }

    [Fact]
    public async Task Enqueue_with_a_reserved_tld_handle_is_answered_validation()
    {
        var manager = StartManager();

        await AskError(manager, new Enqueue(JobFor("alice.example")), QueueErrorCodes.Validation);
    }

    [Fact]
    public async Task Per_handle_requests_with_an_invalid_handle_are_answered_validation()
    {
        var manager = StartManager();

        await AskError(manager, new ClaimNext("bad handle!"), QueueErrorCodes.Validation);
        await AskError(manager, new GetDailyCount("-alice-.bsky.social"), QueueErrorCodes.Validation);
        await AskError(manager, new IncrementDaily("nodots"), QueueErrorCodes.Validation);
        Assert.Equal(new DailyCount(0, 0), await Ask<DailyCount>(manager, new GetDailyCount(Alice)));
    }

    [Fact]
    public async Task MarkPosted_without_a_uri_is_answered_validation()
    {
        var manager = StartManager();
        var job = await EnqueueAndClaim(manager);

        await AskError(manager, new MarkPosted(job.Id, "", Url), QueueErrorCodes.Validation);

        Assert.Equal(JobStatus.InProgress, (await GetJob(manager, job.Id)).Status);
    }

    [Fact]
    public async Task Reports_on_an_unknown_job_are_answered_not_found()
    {
        var manager = StartManager();
        var unknown = Guid.NewGuid().ToString();

        var error = await AskError(manager, new MarkPosted(unknown, Uri, Url), QueueErrorCodes.NotFound);
        await AskError(manager, new MarkFailed(unknown, "boom"), QueueErrorCodes.NotFound);
        await AskError(manager, new MarkRetry(unknown, "boom", Clock.GetUtcNow()), QueueErrorCodes.NotFound);
        await AskError(manager, new ExtendLease(unknown, "token"), QueueErrorCodes.NotFound);

        Assert.Contains(unknown, error.Message);
    }

    [Fact]
    public async Task Reports_on_a_job_in_the_wrong_state_are_answered_invalid_state()
    {
        var manager = StartManager();
        var queued = await Enqueue(manager, JobFor(Alice));

        var error = await AskError(manager, new MarkPosted(queued, Uri, Url), QueueErrorCodes.InvalidState);
        await AskError(manager, new MarkFailed(queued, "boom"), QueueErrorCodes.InvalidState);
        await AskError(manager, new MarkRetry(queued, "boom", Clock.GetUtcNow()), QueueErrorCodes.InvalidState);

        Assert.Contains("queued", error.Message);
        Assert.Contains("in_progress", error.Message);
        Assert.Equal(JobStatus.Queued, (await GetJob(manager, queued)).Status);
    }

    [Fact]
    public async Task MarkPosted_with_a_different_uri_on_a_posted_job_is_answered_invalid_state()
    {
        var manager = StartManager();
        var job = await EnqueueAndClaim(manager);
        await Ask<JobUpdated>(manager, new MarkPosted(job.Id, Uri, Url));

        await AskError(manager, new MarkPosted(job.Id, Uri + "x", Url), QueueErrorCodes.InvalidState);
        await AskError(manager, new MarkFailed(job.Id, "too late"), QueueErrorCodes.InvalidState);
    }

    [Fact]
    public async Task Reports_with_a_claim_token_that_lost_its_lease_are_answered_lease_lost()
    {
        var manager = StartManager();
        var job = await EnqueueAndClaim(manager);
        Clock.Advance(TimeSpan.FromSeconds(301));
        await Ask<StaleReclaimed>(manager, new ReclaimStale());
        var reclaimedBy = await Ask<JobClaimed>(manager, new ClaimNext(Alice));
        Assert.Equal(job.Id, reclaimedBy.Job?.Id);

        var error = await AskError(manager, new MarkPosted(job.Id, Uri, Url, job.ClaimToken), QueueErrorCodes.LeaseLost);
        await AskError(manager, new MarkFailed(job.Id, "boom", job.ClaimToken), QueueErrorCodes.LeaseLost);
        await AskError(manager, new MarkRetry(job.Id, "boom", Clock.GetUtcNow(), job.ClaimToken), QueueErrorCodes.LeaseLost);
        await AskError(manager, new ExtendLease(job.Id, job.ClaimToken!), QueueErrorCodes.LeaseLost);

        Assert.Contains(job.ClaimToken!, error.Message);
        Assert.Equal(new JobUpdated(job.Id, JobStatus.Posted),
            await Ask<JobUpdated>(manager, new MarkPosted(job.Id, Uri, Url, reclaimedBy.Job!.ClaimToken)));
    }

    [Fact]
    public async Task A_database_path_that_is_a_directory_answers_every_request_with_storage()
    {
        var manager = StartManager(o => o.DbPath = Db.Folder);

        var errors = await Task.WhenAll(EveryRequest().Select(r => AskError(manager, r, QueueErrorCodes.Storage)));

        Assert.All(errors, e => Assert.Contains(Db.Folder, e.Message));
    }

    [Fact]
    public async Task A_file_that_is_not_sqlite_answers_every_request_with_storage()
    {
        await File.WriteAllTextAsync(Db.DbPath, string.Concat(Enumerable.Repeat("this is not a database. ", 400)));
        var manager = StartManager();

        var errors = await Task.WhenAll(EveryRequest().Select(r => AskError(manager, r, QueueErrorCodes.Storage)));

        Assert.All(errors, e => Assert.Contains("not a SQLite database", e.Message));
    }

    [Fact]
    public async Task A_database_path_the_storage_layer_refuses_outright_is_answered_not_timed_out()
    {
        // A NUL character makes the path itself invalid: the queue cannot even be constructed.
        var manager = StartManager(o => o.DbPath = Path.Combine(Db.Folder, "bad\0name.sqlite3"));

        foreach (var request in EveryRequest())
            Assert.NotNull(await Ask<QueueError>(manager, request));
    }

    [Fact]
    public async Task A_storage_failure_is_answered_to_every_request_of_the_batch_and_the_service_recovers()
    {
        var manager = StartManager(o => o.BusyTimeout = TimeSpan.FromMilliseconds(200));
        var job = await EnqueueAndClaim(manager);
        var before = await Ask<QueueStats>(manager, new GetStats());

        using (var otherWriter = Db.Connect())
        {
            using (var begin = otherWriter.CreateCommand())
            {
                // Another process holds the write lock past the busy timeout: every write batch fails.
                begin.CommandText = "BEGIN IMMEDIATE;";
                begin.ExecuteNonQuery();
            }
            var clients = Enumerable.Range(0, 40).Select(_ => CreateTestProbe()).ToList();
            for (int i = 0; i < clients.Count; i++)
            {
                IQueueRequest write = (i % 4) switch
                {
                    0 => new IncrementDaily(i % 8 == 0 ? Alice : Bob),
                    1 => new Enqueue(JobFor(Bob, $"job {i}")),
                    // Claims of one handle run one at a time; claims of different handles share a batch.
                    2 => new ClaimNext($"poster{i}.bsky.social"),
                    _ => new MarkPosted(job.Id, Uri, Url, job.ClaimToken),
                };
                clients[i].Send(manager, write);
            }

            foreach (var client in clients)
            {
                var error = await client.ExpectMsgAsync<QueueError>(AskTimeout);
                Assert.Equal(QueueErrorCodes.Storage, error.Code);
                Assert.Contains("locked", error.Message);
            }
            // WAL readers are not blocked by the writer: reads are still served meanwhile.
            Assert.Equal(before, await Ask<QueueStats>(manager, new GetStats()));
        }

        Assert.Equal(before, await Ask<QueueStats>(manager, new GetStats()));
        Assert.Equal(new DailyCount(0, 0), await Ask<DailyCount>(manager, new GetDailyCount(Bob)));
        Assert.Equal(JobStatus.Posted, (await Ask<JobUpdated>(manager, new MarkPosted(job.Id, Uri, Url, job.ClaimToken))).Status);
        Assert.Equal(new DailyCount(1, 0), await Ask<DailyCount>(manager, new IncrementDaily(Bob)));
    }

    private async Task<Job> EnqueueAndClaim(IActorRef manager, NewJob? job = null)
    {
        job ??= JobFor(Alice);
        var id = await Enqueue(manager, job);
        var claimed = await Ask<JobClaimed>(manager, new ClaimNext(job.ExpectedHandle));
        Assert.Equal(id, claimed.Job?.Id);
        return claimed.Job!;
    }

    private IEnumerable<IQueueRequest> EveryRequest()
    {
        var id = Guid.NewGuid().ToString();
        yield return new Enqueue(JobFor(Alice));
        yield return new ClaimNext(Alice);
        yield return new ClaimNext();
        yield return new MarkPosted(id, Uri, Url);
        yield return new MarkFailed(id, "boom");
        yield return new MarkRetry(id, "boom", Clock.GetUtcNow());
        yield return new ExtendLease(id, "token");
        yield return new GetStats();
        yield return new GetDailyCount(Alice);
        yield return new IncrementDaily(Alice);
        yield return new ReclaimStale();
        yield return new GetJob(id);
    }
}

using System.Text.Json.Nodes;
using QueueActors.Storage;
using QueueActors.Storage.Tests;
using Xunit;

namespace QueueActors.Cli.Tests;

/// <summary>
/// requeue, reclaim and purge. The CLI reads the system clock, so jobs whose age matters are written
/// beforehand through <see cref="BlueskyQueue"/> on a <see cref="ManualClock"/> set in the past.
/// </summary>
[Collection(ConsoleCollection.Name)]
public sealed class MaintenanceTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static NewJob Job(string text, int maxAttempts = 3) =>
        new() { Text = text, ExpectedHandle = "alice.example.com", MaxAttempts = maxAttempts };

    /// <summary>Enqueues and claims a job at <paramref name="at"/>; returns the claimed job.</summary>
    private async Task<Job> ClaimedAtAsync(DateTimeOffset at, int maxAttempts = 3, string text = "stuck")
    {
        var clock = new ManualClock(at);
        await using var queue = _dir.Open(clock);
        var id = await queue.EnqueueAsync(Job(text, maxAttempts));
        var job = await queue.ClaimNextAsync();
        Assert.NotNull(job);
        Assert.Equal(id, job.Id);
        return job;
    }

    [Fact]
    public async Task Requeue_puts_a_failed_job_back_due_now_with_attempts_reset()
    {
        var job = await ClaimedAtAsync(DateTimeOffset.UtcNow.AddHours(-1));
        await using (var queue = _dir.Open())
            await queue.MarkFailedAsync(job.Id, "HTTP 400: bad request", job.ClaimToken);
        Assert.Equal(new QueueStats(0, 0, 0, 1), await _dir.StatsAsync());

        var run = await Bsq.OkAsync("requeue", job.Id, "--db", _dir.Db, "--json");
        JobKeys.AssertJob(run.Json);
        Assert.Equal("queued", (string?)run.JsonObject["status"]);
        Assert.Equal(0, (int)run.JsonObject["attempts"]!);
        Assert.Equal(new QueueStats(1, 0, 0, 0), await _dir.StatsAsync());

        var claimed = await Bsq.OkAsync("claim", "--db", _dir.Db, "--json");
        Assert.Equal(job.Id, (string?)claimed.JsonObject["id"]);
    }

    [Fact]
    public async Task Mark_posted_with_the_claim_token_posts_the_job_and_a_lost_lease_is_refused()
    {
        var job = await ClaimedAtAsync(DateTimeOffset.UtcNow.AddMinutes(-1));
        var stale = await Bsq.RunExpectingAsync(Program.BadInput, "mark-posted", job.Id, "--uri", "at://did:plc:x/app.bsky.feed.post/3k",
            "--url", "https://bsky.app/x", "--token", "not-the-token", "--db", _dir.Db);
        Assert.Contains("lease", stale.Err, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(new QueueStats(0, 1, 0, 0), await _dir.StatsAsync());

        var run = await Bsq.OkAsync("mark-posted", job.Id, "--uri", "at://did:plc:x/app.bsky.feed.post/3k",
            "--url", "https://bsky.app/x", "--token", job.ClaimToken!, "--db", _dir.Db, "--json");
        Assert.Equal("posted", (string?)run.JsonObject["status"]);
        await using var queue = _dir.Open();
        var stored = await queue.GetJobAsync(job.Id);
        Assert.Equal("at://did:plc:x/app.bsky.feed.post/3k", stored!.ResultUri);
    }

    [Fact]
    public async Task Mark_failed_fails_a_claimed_job_for_good()
    {
        var job = await ClaimedAtAsync(DateTimeOffset.UtcNow.AddMinutes(-1));
        var run = await Bsq.OkAsync("mark-failed", job.Id, "--error", "HTTP 400: text too long", "--db", _dir.Db);
        Assert.Equal($"{job.Id} failed", run.Out.Trim());
        await using var queue = _dir.Open();
        var stored = await queue.GetJobAsync(job.Id);
        Assert.Equal(JobStatus.Failed, stored!.Status);
        Assert.Equal("HTTP 400: text too long", stored.LastError);
    }

    [Fact]
    public async Task Requeue_puts_a_stuck_in_progress_job_back()
    {
        var job = await ClaimedAtAsync(DateTimeOffset.UtcNow.AddMinutes(-1));
        var run = await Bsq.OkAsync("requeue", job.Id, "--db", _dir.Db);
        Assert.Equal($"{job.Id} queued", run.Out.Trim());
        Assert.Equal(new QueueStats(1, 0, 0, 0), await _dir.StatsAsync());
    }

    [Fact]
    public async Task Requeue_of_a_queued_or_posted_or_unknown_job_is_bad_input()
    {
        var queued = (string)(await Bsq.OkAsync("enqueue", "--text", "q", "--handle", "alice.example.com", "--db", _dir.Db, "--json"))
            .JsonObject["id"]!;
        var run = await Bsq.RunExpectingAsync(Program.BadInput, "requeue", queued, "--db", _dir.Db, "--json");
        Assert.Contains("queued", run.Err);
        Assert.Empty(run.Out);

        var posted = await ClaimedAtAsync(DateTimeOffset.UtcNow.AddMinutes(-1), text: "posted");
        await using (var queue = _dir.Open())
            await queue.MarkPostedAsync(posted.Id, "at://did:plc:ptenb53qybtyitgeylzid7it/app.bsky.feed.post/3mupdbnq3hd25",
                "https://bsky.app/profile/alice.example.com/post/3mupdbnq3hd25", posted.ClaimToken);
        var again = await Bsq.RunExpectingAsync(Program.BadInput, "requeue", posted.Id, "--db", _dir.Db, "--json");
        Assert.Contains("posted", again.Err);
        Assert.Empty(again.Out);

        var unknown = await Bsq.RunExpectingAsync(Program.BadInput, "requeue", Guid.NewGuid().ToString(), "--db", _dir.Db, "--json");
        Assert.Contains("No job", unknown.Err);
        Assert.Empty(unknown.Out);
        Assert.Equal(new QueueStats(1, 0, 1, 0), await _dir.StatsAsync());
    }

    [Fact]
    public async Task Reclaim_requeues_expired_leases_and_fails_those_out_of_attempts()
    {
        var now = DateTimeOffset.UtcNow;
        var stale = await ClaimedAtAsync(now.AddMinutes(-10), text: "stale");
        var lastTry = await ClaimedAtAsync(now.AddMinutes(-10), maxAttempts: 1, text: "last try");
        var fresh = await ClaimedAtAsync(now.AddMinutes(-1), text: "fresh");

        var run = await Bsq.OkAsync("reclaim", "--db", _dir.Db, "--json"); // default timeout: 300 s
        var result = run.JsonObject;
        Assert.Equal(stale.Id, (string?)Assert.Single(Assert.IsType<JsonArray>(result["requeued"]))!.GetValue<string>());
        Assert.Equal(lastTry.Id, (string?)Assert.Single(Assert.IsType<JsonArray>(result["failed"]))!.GetValue<string>());

        await using (var queue = _dir.Open())
        {
            var s = await queue.GetJobAsync(stale.Id);
            Assert.Equal(JobStatus.Queued, s!.Status);
            Assert.Equal(1, s.Attempts);
            Assert.Contains("lease expired", s.LastError);
            Assert.Equal(JobStatus.Failed, (await queue.GetJobAsync(lastTry.Id))!.Status);
            Assert.Equal(JobStatus.InProgress, (await queue.GetJobAsync(fresh.Id))!.Status);
        }

        // A shorter timeout reaches the fresh lease too; plain output counts.
        var plain = await Bsq.OkAsync("reclaim", "--timeout", "30s", "--db", _dir.Db);
        Assert.Equal("1 requeued, 0 failed (attempts used up)", plain.Out.Trim());
        Assert.Equal(new QueueStats(2, 0, 0, 1), await _dir.StatsAsync());
    }

    [Fact]
    public async Task Reclaim_with_nothing_stale_changes_nothing()
    {
        var fresh = await ClaimedAtAsync(DateTimeOffset.UtcNow.AddSeconds(-5));
        var run = await Bsq.OkAsync("reclaim", "--timeout", "10m", "--db", _dir.Db, "--json");
        Assert.Empty(Assert.IsType<JsonArray>(run.JsonObject["requeued"]));
        Assert.Empty(Assert.IsType<JsonArray>(run.JsonObject["failed"]));
        Assert.Equal(new QueueStats(0, 1, 0, 0), await _dir.StatsAsync());
        Assert.NotNull(fresh.ClaimToken);
    }

    [Theory]
    [InlineData("soon")]
    [InlineData("-5m")]
    [InlineData("10")]
    public async Task Reclaim_with_a_bad_timeout_is_bad_input(string timeout)
    {
        var run = await Bsq.RunExpectingAsync(Program.BadInput, "reclaim", "--timeout", timeout, "--db", _dir.Db, "--json");
        Assert.Contains("--timeout", run.Err);
        Assert.Empty(run.Out);
    }

    [Fact]
    public async Task Purge_deletes_finished_jobs_older_than_the_age_only()
    {
        var now = DateTimeOffset.UtcNow;
        var oldPosted = await ClaimedAtAsync(now.AddDays(-40), text: "old posted");
        var oldFailed = await ClaimedAtAsync(now.AddDays(-40), text: "old failed");
        var newPosted = await ClaimedAtAsync(now.AddDays(-1), text: "new posted");
        string oldQueued;
        var clock = new ManualClock(now.AddDays(-40));
        await using (var queue = _dir.Open(clock))
        {
            await queue.MarkPostedAsync(oldPosted.Id, "at://did:plc:ptenb53qybtyitgeylzid7it/app.bsky.feed.post/3mupdbnq3hd25",
                "https://bsky.app/profile/alice.example.com/post/3mupdbnq3hd25", oldPosted.ClaimToken);
            await queue.MarkFailedAsync(oldFailed.Id, "HTTP 400", oldFailed.ClaimToken);
            oldQueued = await queue.EnqueueAsync(Job("old but never posted"));
            clock.Set(now.AddDays(-1));
            await queue.MarkPostedAsync(newPosted.Id, "at://did:plc:ptenb53qybtyitgeylzid7it/app.bsky.feed.post/3mupdbnq3hd26",
                "https://bsky.app/profile/alice.example.com/post/3mupdbnq3hd26", newPosted.ClaimToken);
        }

        var run = await Bsq.OkAsync("purge", "--older-than", "30d", "--db", _dir.Db, "--json");
        Assert.Equal(2, (int)run.JsonObject["deleted"]!);
        await using (var queue = _dir.Open())
        {
            Assert.Null(await queue.GetJobAsync(oldPosted.Id));
            Assert.Null(await queue.GetJobAsync(oldFailed.Id));
            Assert.NotNull(await queue.GetJobAsync(newPosted.Id));
            Assert.NotNull(await queue.GetJobAsync(oldQueued));
        }

        Assert.Equal("0 jobs deleted", (await Bsq.OkAsync("purge", "--older-than", "2d", "--db", _dir.Db)).Out.Trim());
        Assert.Equal("1 jobs deleted", (await Bsq.OkAsync("purge", "--older-than", "12h", "--db", _dir.Db)).Out.Trim());
        Assert.Equal(new QueueStats(1, 0, 0, 0), await _dir.StatsAsync());
    }

    [Fact]
    public async Task Purge_needs_a_valid_older_than()
    {
        var missing = await Bsq.RunExpectingAsync(Program.BadInput, "purge", "--db", _dir.Db, "--json");
        Assert.Contains("--older-than", missing.Err);
        Assert.Empty(missing.Out);

        var bad = await Bsq.RunExpectingAsync(Program.BadInput, "purge", "--older-than", "a month", "--db", _dir.Db, "--json");
        Assert.Contains("--older-than", bad.Err);
        Assert.Empty(bad.Out);
    }
}

using Akka.Actor;
using QueueActors.Storage;
using Xunit;

namespace QueueActors.Remote.Tests;

/// <summary>Two real ActorSystems over loopback: a poster uses the served queue as if it were local.</summary>
public sealed class OverTheWireTests : IAsyncLifetime
{
    private ServedQueue _service = null!;
    private PosterHost _poster = null!;

    public async Task InitializeAsync()
    {
        _service = await ServedQueue.StartAsync();
        _poster = await PosterHost.StartAsync(_service.Address);
    }

    public async Task DisposeAsync()
    {
        await _poster.DisposeAsync();
        await _service.DisposeAsync();
    }

    [Fact]
    public async Task Enqueue_claim_mark_and_stats_cross_the_wire()
    {
        var client = _poster.Client;
        var notBefore = new DateTimeOffset(2020, 1, 2, 3, 4, 5, TimeSpan.FromHours(8)).AddTicks(1234560); // the database keeps microseconds
        var postId = await client.EnqueueAsync(Remote.JobFor(Remote.Alice, "first 👩‍💻 post, 你好") with { NotBefore = notBefore });
        var retryId = await client.EnqueueAsync(Remote.JobFor(Remote.Alice, "second"));
        var failId = await client.EnqueueAsync(Remote.JobFor(Remote.Bob, "third"));
        Assert.Equal(new QueueStats(3, 0, 0, 0), await client.StatsAsync());

        var first = await client.ClaimNextAsync(Remote.Alice);
        Assert.NotNull(first);
        Assert.Equal(postId, first.Id);
        Assert.Equal("first 👩‍💻 post, 你好", first.Text);
        Assert.Equal(notBefore, first.NotBefore);
        Assert.Equal(JobStatus.InProgress, first.Status);
        Assert.NotNull(first.ClaimToken);
        Assert.False(string.IsNullOrEmpty(first.RecordKey));

        var posted = await client.MarkPostedAsync(first.Id, "at://did:plc:abc/app.bsky.feed.post/3kabc", "https://bsky.app/x", first.ClaimToken);
        Assert.Equal(new JobUpdated(postId, JobStatus.Posted), posted);

        var second = await client.ClaimNextAsync(Remote.Alice);
        Assert.Equal(retryId, second!.Id);
        var retried = await client.MarkRetryAsync(second.Id, "rate limited", DateTimeOffset.UtcNow.AddHours(1), second.ClaimToken);
        Assert.Equal(JobStatus.Queued, retried.Status);

        var third = await client.ClaimNextAsync(Remote.Bob);
        Assert.Equal(failId, third!.Id);
        Assert.Equal(JobStatus.Failed, (await client.MarkFailedAsync(third.Id, "gone", third.ClaimToken)).Status);

        Assert.Null(await client.ClaimNextAsync());
        Assert.Equal(new QueueStats(1, 0, 1, 1), await client.StatsAsync());
        Assert.Equal(new QueueStats(1, 0, 1, 0), await client.StatsAsync(Remote.Alice));
        Assert.Equal(new QueueStats(0, 0, 0, 1), await client.StatsAsync(Remote.Bob));
        Assert.Equal(new DailyCount(1, 0), await client.IncrementDailyAsync(Remote.Alice));
        Assert.Equal(new DailyCount(1, 1), await client.IncrementDailyAsync(Remote.Alice, isReply: true));
        Assert.Equal(new DailyCount(1, 1), await client.GetDailyCountAsync(Remote.Alice));
        var stored = await client.GetJobAsync(postId);
        Assert.Equal("https://bsky.app/x", stored!.ResultUrl);
        Assert.Equal(await client.NextDueAsync(Remote.Alice), (await client.GetJobAsync(retryId))!.NotBefore);
        Assert.Empty((await client.ReclaimStaleAsync(TimeSpan.FromMinutes(5))).JobIds);

        // What the wire said is what the file holds.
        Assert.Equal(new QueueStats(1, 0, 1, 1), await _service.StatsFromDbAsync());
    }

    [Fact]
    public async Task A_QueueClient_works_on_an_ActorSelection_and_on_a_resolved_reference_too()
    {
        var bySelection = new QueueClient(_poster.System.ActorSelection(_service.Address), Remote.AskTimeout);
        var id = await bySelection.EnqueueAsync(Remote.JobFor(Remote.Alice));

        var resolved = await _poster.System.ActorSelection(_service.Address).ResolveOne(Remote.AskTimeout);
        var byRef = new QueueClient(resolved, Remote.AskTimeout);
        Assert.Equal(id, (await byRef.ClaimNextAsync())!.Id);
        Assert.Equal(new QueueStats(0, 1, 0, 0), await byRef.StatsAsync());
    }

    [Fact]
    public async Task Bad_requests_from_a_remote_client_get_a_QueueError_with_its_code()
    {
        var badHandle = await Assert.ThrowsAsync<QueueException>(() =>
            _poster.Client.EnqueueAsync(Remote.JobFor("not a handle")));
        Assert.Equal(QueueErrorCodes.Validation, badHandle.Code);
        Assert.Contains("handle", badHandle.Message, StringComparison.OrdinalIgnoreCase);

        // Unpaired surrogates cross the wire intact (JSON alone would turn them into U+FFFD), so the service can refuse them.
        var badText = await Assert.ThrowsAsync<QueueException>(() =>
            _poster.Client.EnqueueAsync(Remote.JobFor(Remote.Alice, "broken \uD83D text")));
        Assert.Equal(QueueErrorCodes.Validation, badText.Code);

        var missing = await Assert.ThrowsAsync<QueueException>(() =>
            _poster.Client.MarkPostedAsync("no-such-job", "at://did:plc:abc/app.bsky.feed.post/3kabc", "https://bsky.app/x"));
        Assert.Equal(QueueErrorCodes.NotFound, missing.Code);

        var id = await _poster.Client.EnqueueAsync(Remote.JobFor(Remote.Alice));
        var wrongState = await Assert.ThrowsAsync<QueueException>(() => _poster.Client.MarkFailedAsync(id, "not claimed"));
        Assert.Equal(QueueErrorCodes.InvalidState, wrongState.Code);

        Assert.Equal(new QueueStats(1, 0, 0, 0), await _service.StatsFromDbAsync());
    }

    [Fact]
    public async Task Two_remote_clients_claiming_concurrently_get_disjoint_jobs()
    {
        const int Jobs = 200;
        await using var second = await PosterHost.StartAsync(_service.Address, "poster-two");
        var enqueued = new HashSet<string>();
        foreach (var chunk in Enumerable.Range(0, Jobs).Chunk(50))
            foreach (var id in await Task.WhenAll(chunk.Select(i =>
                         _poster.Client.EnqueueAsync(Remote.JobFor(i % 2 == 0 ? Remote.Alice : Remote.Bob, $"job {i}")))))
                enqueued.Add(id);
        Assert.Equal(Jobs, enqueued.Count);

        async Task<List<string>> Drain(QueueClient client, string? handle)
        {
            var mine = new List<string>();
            while (await client.ClaimNextAsync(handle) is { } job) mine.Add(job.Id);
            return mine;
        }

        // Each poster runs several claim loops at once: some on one handle, some on any.
        var loops = new[] { _poster.Client, second.Client }
            .SelectMany(c => new[] { Drain(c, null), Drain(c, Remote.Alice), Drain(c, Remote.Bob), Drain(c, null) })
            .ToList();
        var claimed = (await Task.WhenAll(loops)).SelectMany(x => x).ToList();

        Assert.Equal(Jobs, claimed.Count);
        Assert.Equal(Jobs, claimed.Distinct().Count());
        Assert.True(enqueued.SetEquals(claimed));
        Assert.True(loops.Take(4).Sum(l => l.Result.Count) > 0 && loops.Skip(4).Sum(l => l.Result.Count) > 0,
            "both posters should have claimed some jobs");
        Assert.Equal(new QueueStats(0, Jobs, 0, 0), await second.Client.StatsAsync());
    }
}

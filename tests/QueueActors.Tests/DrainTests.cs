using System.Diagnostics;
using Akka.Actor;
using QueueActors.Storage;
using QueueActors.Storage.Tests;
using Xunit;
using Xunit.Abstractions;

namespace QueueActors.Tests;

/// <summary>Runs alone: the drain measures throughput and should not share the machine with other tests.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DrainCollection
{
    public const string Name = "drain";
}

/// <summary>50 poster actors over 5 handles drain 5,000 jobs: every job is claimed exactly once.</summary>
[Collection(DrainCollection.Name)]
public sealed class DrainTests(ITestOutputHelper output) : QueueTestKit(output)
{
    private const int Jobs = 5_000, Posters = 50;
    private static readonly string[] Handles =
        ["alice.bsky.social", "bob.bsky.social", "carol.bsky.social", "dave.bsky.social", "erin.bsky.social"];
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task Fifty_poster_actors_over_five_handles_drain_5000_jobs_each_claimed_exactly_once()
    {
        var enqueued = await EnqueueJobs();
        var manager = StartManager();

        var (claimed, elapsed) = await DrainThroughActors(manager);

        Assert.Equal(Jobs, claimed.Count);
        Assert.Equal(Jobs, claimed.Distinct().Count());
        Assert.True(enqueued.SetEquals(claimed), "the claimed ids are not the enqueued ids");
        Assert.Equal(new QueueStats(0, 0, Jobs, 0), await Ask<QueueStats>(manager, new GetStats()));
        var daily = new List<DailyCount>();
        foreach (var handle in Handles) daily.Add(await Ask<DailyCount>(manager, new GetDailyCount(handle)));
        Assert.Equal(Jobs, daily.Sum(d => d.PostCount));
        Assert.All(daily, d => Assert.Equal(new DailyCount(Jobs / Handles.Length, 0), d));
        Output?.WriteLine($"actor drain: {Jobs} jobs in {elapsed.TotalSeconds:0.00} s");
    }

    [Fact]
    public async Task Throughput_of_the_drain_through_the_actors_against_BlueskyQueue_directly()
    {
        // Not an assertion on timing: the figures go to the test output for the note.
        await EnqueueJobs();
        var manager = StartManager();
        var (actorClaimed, actorTime) = await DrainThroughActors(manager);

        using var directDb = new TempDb();
        var settings = new QueueSettings { DbPath = directDb.DbPath, TimeProvider = Clock, BusyTimeout = TimeSpan.FromMinutes(1) };
        await using (var queue = new BlueskyQueue(settings))
            await queue.EnqueueManyAsync(Enumerable.Range(0, Jobs).Select(i => JobFor(Handles[i % Handles.Length], $"post {i}")));
        var (directClaimed, directTime) = await DrainDirectly(settings);

        Assert.Equal(Jobs, actorClaimed.Distinct().Count());
        Assert.Equal(Jobs, directClaimed.Distinct().Count());
        double actorRate = Jobs / actorTime.TotalSeconds, directRate = Jobs / directTime.TotalSeconds;
        Output?.WriteLine(
            $"drain of {Jobs} jobs, {Posters} posters over {Handles.Length} handles, claim -> mark posted -> increment daily, synchronous=full:");
        Output?.WriteLine($"  through the actors:        {actorTime.TotalSeconds,7:0.00} s  {actorRate,8:0} jobs/s");
        Output?.WriteLine($"  through BlueskyQueue only: {directTime.TotalSeconds,7:0.00} s  {directRate,8:0} jobs/s");
        Output?.WriteLine($"  ratio actors/direct:       {actorRate / directRate,7:0.00}x");
    }

    private async Task<HashSet<string>> EnqueueJobs()
    {
        await using var storage = OpenStorage();
        var results = await storage.EnqueueManyAsync(
            Enumerable.Range(0, Jobs).Select(i => JobFor(Handles[i % Handles.Length], $"post {i}")));
        return results.Select(r => r.Id).ToHashSet();
    }

    private async Task<(List<string> Claimed, TimeSpan Elapsed)> DrainThroughActors(IActorRef manager)
    {
        var reports = CreateTestProbe();
        var stopwatch = Stopwatch.StartNew();
        for (int i = 0; i < Posters; i++)
        {
            string handle = Handles[i % Handles.Length];
            Sys.ActorOf(Props.Create(() => new PosterActor(manager, handle, reports.Ref)), $"poster-{i}");
        }
        var claimed = new List<string>();
        for (int i = 0; i < Posters; i++)
        {
            var report = await reports.ReceiveOneAsync(DrainTimeout);
            switch (report)
            {
                case PosterActor.Finished finished:
                    claimed.AddRange(finished.ClaimedJobIds);
                    break;
                case PosterActor.Broken broken:
                    Assert.Fail($"a poster of {broken.Handle} was answered {broken.Error}");
                    break;
                default:
                    Assert.Fail($"no report from {Posters - i} posters within {DrainTimeout} (got {report})");
                    break;
            }
        }
        return (claimed, stopwatch.Elapsed);
    }

    private static async Task<(List<string> Claimed, TimeSpan Elapsed)> DrainDirectly(QueueSettings settings)
    {
        await using var queue = new BlueskyQueue(settings);
        await queue.InitDbAsync();
        var stopwatch = Stopwatch.StartNew();
        var posters = Enumerable.Range(0, Posters).Select(i => Task.Run(async () =>
        {
            string handle = Handles[i % Handles.Length];
            var claimed = new List<string>();
            while (await queue.ClaimNextAsync(handle) is { } job)
            {
                claimed.Add(job.Id);
                await queue.MarkPostedAsync(job.Id, $"at://did:plc:poster/app.bsky.feed.post/{job.RecordKey}",
                    $"https://bsky.app/profile/{handle}/post/{job.RecordKey}", job.ClaimToken);
                await queue.IncrementDailyAsync(handle);
            }
            return claimed;
        }));
        var all = await Task.WhenAll(posters);
        return (all.SelectMany(c => c).ToList(), stopwatch.Elapsed);
    }
}

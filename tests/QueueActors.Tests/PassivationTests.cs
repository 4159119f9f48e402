using Akka.Actor;
using QueueActors.Storage;
using Xunit;
using Xunit.Abstractions;

namespace QueueActors.Tests;

/// <summary>An idle <see cref="QueueActor"/> stops; its successor takes over with no request lost.</summary>
public sealed class PassivationTests(ITestOutputHelper output) : QueueTestKit(output)
{
    [Fact]
    public async Task An_idle_queue_actor_stops_and_a_new_one_serves_the_handle()
    {
        var manager = StartManager(o => o.IdleTimeout = TimeSpan.FromMilliseconds(300));
        var first = await Enqueue(manager, JobFor(Alice));
        var second = await Enqueue(manager, JobFor(Alice));
        Assert.Equal(first, (await Ask<JobClaimed>(manager, new ClaimNext(Alice))).Job?.Id);
        var idle = await HandleActor();
        Assert.NotNull(idle);
        Watch(idle);

        await ExpectTerminatedAsync(idle, AskTimeout);

        Assert.Equal(second, (await Ask<JobClaimed>(manager, new ClaimNext(Alice))).Job?.Id);
        Assert.Null((await Ask<JobClaimed>(manager, new ClaimNext(Alice))).Job);
        var successor = await HandleActor();
        Assert.NotNull(successor);
        Assert.NotEqual(idle.Path, successor.Path);
        Assert.Equal(new DailyCount(1, 0), await Ask<DailyCount>(manager, new IncrementDaily(Alice)));
    }

    [Fact]
    public async Task A_busy_queue_actor_is_not_passivated()
    {
        var manager = StartManager(o => o.IdleTimeout = TimeSpan.FromMilliseconds(300));
        await Ask<JobClaimed>(manager, new ClaimNext(Alice));
        var actor = await HandleActor();
        Assert.NotNull(actor);
        Watch(actor);

        // Requests keep arriving more often than the idle timeout for over three idle periods.
        for (int i = 0; i < 10; i++)
        {
            await Ask<JobClaimed>(manager, new ClaimNext(Alice));
            await ExpectNoMsgAsync(TimeSpan.FromMilliseconds(100));
        }

        Assert.Equal(actor, await HandleActor());
    }

    [Fact]
    public async Task Claims_sent_in_bursts_around_passivation_are_all_answered_each_job_once()
    {
        var idleTimeout = TimeSpan.FromMilliseconds(100);
        var manager = StartManager(o => o.IdleTimeout = idleTimeout);
        const int rounds = 30, burst = 5;
        await using (var storage = OpenStorage())
            await storage.EnqueueManyAsync(Enumerable.Range(0, rounds * burst).Select(i => JobFor(Alice, $"post {i}")));
        var client = CreateTestProbe();
        var incarnations = new HashSet<ActorPath>();
        var random = new Random(406);

        for (int round = 0; round < rounds; round++)
        {
            // Pauses from half to one and a half idle periods: some bursts meet an actor that is passivating.
            await Task.Delay(TimeSpan.FromMilliseconds(idleTimeout.TotalMilliseconds * (0.5 + random.NextDouble())));
            for (int i = 0; i < burst; i++) client.Send(manager, new ClaimNext(Alice));
            if (await HandleActor() is { } actor) incarnations.Add(actor.Path);
        }

        var answers = await client.ReceiveNAsync(rounds * burst, TimeSpan.FromSeconds(30)).ToListAsync();
        var ids = answers.Select(a => Assert.IsType<JobClaimed>(a).Job?.Id).ToList();
        Assert.DoesNotContain(null, ids);
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.True(incarnations.Count > 1, "the handle's actor never passivated during the bursts");
        Assert.Equal(new QueueStats(0, rounds * burst, 0, 0), await Ask<QueueStats>(manager, new GetStats()));
        Output?.WriteLine($"{incarnations.Count} incarnations of the handle's actor served {ids.Count} claims");
    }

    [Fact]
    public async Task Mixed_requests_sent_while_the_actor_passivates_are_all_answered()
    {
        var idleTimeout = TimeSpan.FromMilliseconds(100);
        var manager = StartManager(o => o.IdleTimeout = idleTimeout);
        var client = CreateTestProbe();
        var random = new Random(7);
        int sent = 0;

        for (int round = 0; round < 20; round++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(idleTimeout.TotalMilliseconds * (0.5 + random.NextDouble())));
            client.Send(manager, new Enqueue(JobFor(Bob, $"post {round}")));
            client.Send(manager, new IncrementDaily(Bob));
            client.Send(manager, new ClaimNext(Bob));
            client.Send(manager, new GetDailyCount(Bob));
            sent += 4;
        }

        var answers = await client.ReceiveNAsync(sent, TimeSpan.FromSeconds(30)).ToListAsync();
        Assert.DoesNotContain(answers, a => a is QueueError);
        Assert.Equal(20, answers.OfType<Enqueued>().Count());
        Assert.Equal(20, answers.OfType<JobClaimed>().Count(c => c.Job is not null));
        Assert.Equal(new DailyCount(20, 0), await Ask<DailyCount>(manager, new GetDailyCount(Bob)));
    }

    /// <summary>The current actor of <see cref="QueueTestKit.Alice"/> (or of Bob), found by path; null when none is running.</summary>
    private async Task<IActorRef?> HandleActor()
    {
        var identity = await Sys.ActorSelection($"/user/{QueueManager.ActorName}/handle-*")
            .Ask<ActorIdentity>(new Identify("handle"), AskTimeout);
        return identity.Subject;
    }
}

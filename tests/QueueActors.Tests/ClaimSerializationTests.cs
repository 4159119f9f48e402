using Akka.Actor;
using Akka.TestKit;
using QueueActors.Storage;
using Xunit;
using Xunit.Abstractions;

namespace QueueActors.Tests;

/// <summary>
/// Per-handle serialization, observed from the store's side: a <see cref="QueueActor"/> talks to a
/// <see cref="TestProbe"/> standing in for the store, so the test sees exactly which claims are in flight.
/// </summary>
public sealed class ClaimSerializationTests(ITestOutputHelper output) : QueueTestKit(output)
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);

    [Fact]
    public async Task Claims_of_one_handle_reach_the_store_one_at_a_time_in_arrival_order()
    {
        var store = CreateTestProbe();
        var queue = Sys.ActorOf(Props.Create(() => new QueueActor(Alice, store.Ref, TimeSpan.Zero)));
        var posters = Enumerable.Range(0, 3).Select(_ => CreateTestProbe()).ToList();
        foreach (var poster in posters) poster.Send(queue, new ClaimNext(Alice));

        for (int i = 0; i < posters.Count; i++)
        {
            await store.ExpectMsgAsync<ClaimNext>(AskTimeout);
            var claimant = store.LastSender;
            Assert.Equal(queue, claimant);
            await store.ExpectNoMsgAsync(Quiet); // the next claim waits for this one's answer
            var job = FakeJob($"job-{i}");
            claimant.Tell(new JobClaimed(job), store.Ref);

            Assert.Equal(job, (await posters[i].ExpectMsgAsync<JobClaimed>(AskTimeout)).Job);
        }
        await store.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task A_claim_answered_with_an_error_releases_the_next_claim()
    {
        var store = CreateTestProbe();
        var queue = Sys.ActorOf(Props.Create(() => new QueueActor(Alice, store.Ref, TimeSpan.Zero)));
        var first = CreateTestProbe();
        var second = CreateTestProbe();
        first.Send(queue, new ClaimNext(Alice));
        second.Send(queue, new ClaimNext(Alice));

        await store.ExpectMsgAsync<ClaimNext>(AskTimeout);
        store.Reply(new QueueError(QueueErrorCodes.Storage, "disk full"));

        Assert.Equal(QueueErrorCodes.Storage, (await first.ExpectMsgAsync<QueueError>(AskTimeout)).Code);
        await store.ExpectMsgAsync<ClaimNext>(AskTimeout);
        store.Reply(new JobClaimed(null));
        Assert.Null((await second.ExpectMsgAsync<JobClaimed>(AskTimeout)).Job);
    }

    [Fact]
    public async Task Other_requests_of_the_handle_pass_straight_through_while_a_claim_is_in_flight()
    {
        var store = CreateTestProbe();
        var queue = Sys.ActorOf(Props.Create(() => new QueueActor(Alice, store.Ref, TimeSpan.Zero)));
        var poster = CreateTestProbe();
        var reader = CreateTestProbe();
        poster.Send(queue, new ClaimNext(Alice));
        await store.ExpectMsgAsync<ClaimNext>(AskTimeout);
        var claimReplyTo = store.LastSender;

        reader.Send(queue, new GetDailyCount(Alice));

        await store.ExpectMsgAsync<GetDailyCount>(AskTimeout);
        Assert.Equal(reader.Ref, store.LastSender); // forwarded: the store answers the reader itself
        store.Reply(new DailyCount(3, 1));
        Assert.Equal(new DailyCount(3, 1), await reader.ExpectMsgAsync<DailyCount>(AskTimeout));

        claimReplyTo.Tell(new JobClaimed(null), store.Ref);
        Assert.Null((await poster.ExpectMsgAsync<JobClaimed>(AskTimeout)).Job);
    }

    [Fact]
    public async Task A_retired_queue_actor_finishes_its_claim_in_flight_before_it_stops()
    {
        var store = CreateTestProbe();
        var watcher = CreateTestProbe();
        var poster = CreateTestProbe();
        // The TestActor is the parent, standing in for the QueueManager.
        var queue = ChildActorOf(Props.Create(() => new QueueActor(Alice, store.Ref, TimeSpan.FromMilliseconds(200))));
        watcher.Watch(queue);
        Assert.Equal(Alice, (await ExpectMsgAsync<QueueManager.Passivate>(AskTimeout)).Handle);

        // A claim the manager forwarded before it read the Passivate, then the manager's answer to it.
        poster.Send(queue, new ClaimNext(Alice));
        queue.Tell(QueueManager.Retire.Instance, TestActor);

        await store.ExpectMsgAsync<ClaimNext>(AskTimeout);
        await watcher.ExpectNoMsgAsync(Quiet);
        store.Reply(new JobClaimed(FakeJob("last-one")));
        Assert.Equal("last-one", (await poster.ExpectMsgAsync<JobClaimed>(AskTimeout)).Job?.Id);
        await watcher.ExpectTerminatedAsync(queue, AskTimeout);
    }

    [Fact]
    public async Task A_retired_idle_queue_actor_stops_at_once()
    {
        var store = CreateTestProbe();
        var watcher = CreateTestProbe();
        var queue = ChildActorOf(Props.Create(() => new QueueActor(Alice, store.Ref, TimeSpan.FromMilliseconds(200))));
        watcher.Watch(queue);
        await ExpectMsgAsync<QueueManager.Passivate>(AskTimeout);

        queue.Tell(QueueManager.Retire.Instance, TestActor);

        await watcher.ExpectTerminatedAsync(queue, AskTimeout);
        await store.ExpectNoMsgAsync(TimeSpan.Zero);
    }

    [Fact]
    public async Task A_queue_actor_with_claims_waiting_does_not_ask_to_passivate()
    {
        var store = CreateTestProbe();
        var poster = CreateTestProbe();
        var queue = ChildActorOf(Props.Create(() => new QueueActor(Alice, store.Ref, TimeSpan.FromMilliseconds(100))));
        poster.Send(queue, new ClaimNext(Alice));
        await store.ExpectMsgAsync<ClaimNext>(AskTimeout);

        // Several idle periods pass with the claim unanswered: no Passivate reaches the parent.
        await ExpectNoMsgAsync(TimeSpan.FromMilliseconds(500));

        store.Reply(new JobClaimed(null));
        await poster.ExpectMsgAsync<JobClaimed>(AskTimeout);
        await ExpectMsgAsync<QueueManager.Passivate>(AskTimeout);
    }

    private static Job FakeJob(string id) => new(
        id, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, "text", null, null, null, null, Alice, false,
        JobStatus.InProgress, 0, 3, null, null, null, null) { ClaimToken = "token-" + id };
}

using Akka.Actor;

namespace QueueActors.Tests;

/// <summary>
/// A poster as the service's clients run it: claim a job of its handle, report it posted with the
/// claim token, count it for the day, claim again, until nothing is due; then report every id it claimed.
/// </summary>
public sealed class PosterActor : ReceiveActor
{
    private readonly IActorRef _queue;
    private readonly string _handle;
    private readonly List<string> _claimed = new();

    /// <summary>Creates a poster of <paramref name="handle"/> that reports to <paramref name="reportTo"/> when done.</summary>
    public PosterActor(IActorRef queue, string handle, IActorRef reportTo)
    {
        _queue = queue;
        _handle = handle;

        Receive<JobClaimed>(m =>
        {
            if (m.Job is not { } job)
            {
                reportTo.Tell(new Finished(_handle, _claimed));
                Context.Stop(Self);
                return;
            }
            _claimed.Add(job.Id);
            _queue.Tell(new MarkPosted(job.Id, $"at://did:plc:poster/app.bsky.feed.post/{job.RecordKey}",
                $"https://bsky.app/profile/{_handle}/post/{job.RecordKey}", job.ClaimToken));
        });
        Receive<JobUpdated>(_ => _queue.Tell(new IncrementDaily(_handle)));
        Receive<Storage.DailyCount>(_ => _queue.Tell(new ClaimNext(_handle)));
        Receive<QueueError>(e =>
        {
            reportTo.Tell(new Broken(_handle, e));
            Context.Stop(Self);
        });
    }

    /// <inheritdoc />
    protected override void PreStart() => _queue.Tell(new ClaimNext(_handle));

    /// <summary>Nothing more was due: the ids this poster claimed, in order.</summary>
    public sealed record Finished(string Handle, IReadOnlyList<string> ClaimedJobIds);

    /// <summary>The queue answered with an error; the poster stopped.</summary>
    public sealed record Broken(string Handle, QueueError Error);
}

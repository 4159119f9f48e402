using Akka.Actor;

namespace QueueActors;

/// <summary>
/// The queue of one handle inside this process: claims for the handle go to the database one at a
/// time, in arrival order, so two posters of one account never race for its next job here (the
/// database transaction still guards against other processes). Other requests for the handle pass
/// straight through. Stops itself, through its <see cref="QueueManager"/>, after an idle period.
/// </summary>
public sealed class QueueActor : ReceiveActor
{
    private readonly IActorRef _store;
    private readonly Queue<(ClaimNext Request, IActorRef ReplyTo)> _waiting = new();
    private IActorRef? _claimInFlightFor;
    private bool _retiring;

    /// <summary>Creates the actor for <paramref name="handle"/> (null: claims of any handle), talking to <paramref name="store"/>.</summary>
    public QueueActor(string? handle, IActorRef store, TimeSpan idleTimeout)
    {
        Handle = handle;
        _store = store;
        if (idleTimeout > TimeSpan.Zero) Context.SetReceiveTimeout(idleTimeout);

        Receive<ClaimNext>(m =>
        {
            _waiting.Enqueue((m, Sender));
            StartNextClaim();
        });
        // Only claims are sent with this actor as the sender, so any answer is the in-flight claim's.
        Receive<JobClaimed>(ClaimAnswered);
        Receive<QueueError>(ClaimAnswered);
        Receive<IQueueRequest>(m => _store.Forward(m));
        Receive<ReceiveTimeout>(_ =>
        {
            if (IsIdle) Context.Parent.Tell(new QueueManager.Passivate(Handle));
        });
        Receive<QueueManager.Retire>(_ =>
        {
            _retiring = true;
            StopIfRetiredAndIdle();
        });
    }

    /// <summary>The handle served (lower case), or null for the actor serving claims of any handle.</summary>
    public string? Handle { get; }

    private bool IsIdle => _claimInFlightFor is null && _waiting.Count == 0;

    private void StartNextClaim()
    {
        if (_claimInFlightFor is not null || !_waiting.TryDequeue(out var next)) return;
        _claimInFlightFor = next.ReplyTo;
        _store.Tell(next.Request, Self);
    }

    private void ClaimAnswered(object answer)
    {
        _claimInFlightFor?.Tell(answer);
        _claimInFlightFor = null;
        StartNextClaim();
        StopIfRetiredAndIdle();
    }

    private void StopIfRetiredAndIdle()
    {
        if (_retiring && IsIdle) Context.Stop(Self);
    }
}

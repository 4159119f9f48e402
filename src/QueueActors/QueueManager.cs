using System.Text;
using Akka.Actor;
using Akka.Event;
using Akka.Hosting;
using QueueActors.Storage;

namespace QueueActors;

/// <summary>
/// The queue service's entry point, one per ActorSystem at <c>/user/bluesky-queue</c>. Routes each
/// handle's claims to a child <see cref="QueueActor"/> (started on demand, stopped when idle),
/// sends everything else to the database actor, and reclaims stale leases on a timer.
/// </summary>
public sealed class QueueManager : ReceiveActor, IWithTimers
{
    /// <summary>The actor name, and so the path <c>/user/bluesky-queue</c> remote clients use.</summary>
    public const string ActorName = "bluesky-queue";

    private const string AnyHandle = "*";
    private readonly QueueOptions _options;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, IActorRef> _active = new();
    private readonly Dictionary<IActorRef, string> _handleOf = new();
    // Handles whose actor is finishing its last claim: their messages wait here, so one handle
    // never has two actors claiming at once.
    private readonly Dictionary<string, List<(object Message, IActorRef Sender)>> _retiring = new();
    private readonly IActorRef _store;
    private long _incarnation;

    /// <summary>Creates the manager with <paramref name="options"/>.</summary>
    public QueueManager(QueueOptions options)
    {
        _options = options;
        _store = Context.ActorOf(QueueStore.Props(options), "store");

        Receive<IWithHandle>(m => m is IQueueRequest, Route);
        Receive<IQueueRequest>(m => _store.Forward(m));
        Receive<Passivate>(OnPassivate);
        Receive<Terminated>(OnTerminated);
        Receive<ReclaimTick>(_ => _store.Tell(new ReclaimStale(_options.StaleTimeout), Self));
        Receive<StaleReclaimed>(r =>
        {
            if (r.JobIds.Count > 0 || r.FailedJobIds.Count > 0)
                _log.Warning("Reclaimed stale leases: requeued [{0}], failed as exhausted [{1}]",
                    string.Join(", ", r.JobIds), string.Join(", ", r.FailedJobIds));
        });
        Receive<QueueError>(e => _log.Error("Stale lease reclaim failed: {0}: {1}", e.Code, e.Message));
    }

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Props of the manager.</summary>
    public static Props Props(QueueOptions options) => Akka.Actor.Props.Create(() => new QueueManager(options));

    /// <inheritdoc />
    protected override void PreStart()
    {
        if (_options.ReclaimInterval > TimeSpan.Zero)
            Timers.StartPeriodicTimer("reclaim-stale", ReclaimTick.Instance, _options.ReclaimInterval);
    }

    private void Route(IWithHandle message)
    {
        string key;
        try
        {
            key = message.Handle is null ? AnyHandle : JobValidator.NormalizeHandle(message.Handle);
        }
        catch (ArgumentException e)
        {
            Sender.Tell(QueueErrorCodes.From(e));
            return;
        }
        if (message is not ClaimNext)
        {
            // Only claims need a handle's actor; everything else goes straight to the store, so a
            // sender that pipelines requests gets them executed, and answered, in the order sent.
            _store.Forward(message);
            return;
        }
        if (_retiring.TryGetValue(key, out var waiting))
        {
            waiting.Add((message, Sender));
            return;
        }
        HandleActor(key).Forward(message);
    }

    private IActorRef HandleActor(string key)
    {
        if (_active.TryGetValue(key, out var actor)) return actor;
        string? handle = key == AnyHandle ? null : key;
        // Handles are [a-z0-9.-] once validated; the incarnation keeps a successor's name free of its predecessor's.
        string name = $"{(handle is null ? "any" : "handle-" + ActorNameOf(handle))}-{++_incarnation}";
        actor = Context.ActorOf(
            Akka.Actor.Props.Create(() => new QueueActor(handle, _store, _options.IdleTimeout)), name);
        Context.Watch(actor);
        _active[key] = actor;
        _handleOf[actor] = key;
        return actor;
    }

    private void OnPassivate(Passivate _)
    {
        if (!_handleOf.TryGetValue(Sender, out var key) || !_active.TryGetValue(key, out var current) || !current.Equals(Sender))
            return;
        _active.Remove(key);
        _retiring[key] = new List<(object, IActorRef)>();
        Sender.Tell(Retire.Instance);
    }

    private void OnTerminated(Terminated t)
    {
        if (!_handleOf.Remove(t.ActorRef, out var key)) return;
        if (_active.TryGetValue(key, out var current) && current.Equals(t.ActorRef)) _active.Remove(key);
        if (_retiring.Remove(key, out var waiting))
            foreach (var (message, sender) in waiting)
                HandleActor(key).Tell(message, sender);
    }

    private static string ActorNameOf(string handle)
    {
        var name = new StringBuilder(handle.Length);
        foreach (char c in handle)
            name.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '.' ? c : '_');
        return name.ToString();
    }

    /// <summary>Sent by an idle <see cref="QueueActor"/> asking to be stopped.</summary>
    internal sealed record Passivate(string? Handle);

    /// <summary>Tells a <see cref="QueueActor"/> that no more requests come: finish what is in flight, then stop.</summary>
    internal sealed class Retire
    {
        public static readonly Retire Instance = new();
    }

    private sealed class ReclaimTick
    {
        public static readonly ReclaimTick Instance = new();
    }
}

/// <summary>Akka.Hosting set-up of the queue service.</summary>
public static class QueueHostingExtensions
{
    /// <summary>The queue service's default HOCON (<c>hocon/queue.hocon</c>).</summary>
    public static string DefaultHocon => ReadResource("QueueActors.queue.hocon");

    /// <summary>
    /// Starts the queue service: the <see cref="QueueManager"/> at <c>/user/bluesky-queue</c>,
    /// registered in the <see cref="ActorRegistry"/> under <see cref="QueueManager"/>. Settings come
    /// from the <c>bluesky-queue</c> HOCON section; <paramref name="configure"/> overrides them.
    /// </summary>
    public static AkkaConfigurationBuilder WithBlueskyQueue(
        this AkkaConfigurationBuilder builder, Action<QueueOptions>? configure = null)
    {
        builder.AddHocon(DefaultHocon, HoconAddMode.Append);
        return builder.WithActors((system, registry) =>
        {
            var options = QueueOptions.FromConfig(system.Settings.Config.GetConfig("bluesky-queue"));
            configure?.Invoke(options);
            var manager = system.ActorOf(QueueManager.Props(options), QueueManager.ActorName);
            registry.Register<QueueManager>(manager);
        });
    }

    internal static string ReadResource(string name)
    {
        using var stream = typeof(QueueHostingExtensions).Assembly.GetManifestResourceStream(name)
                           ?? throw new InvalidOperationException($"embedded resource {name} is missing");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}

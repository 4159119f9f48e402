using System.Net;
using Akka.Actor;
using Akka.Event;
using Akka.Remote.Transport;
using Google.Protobuf;

namespace QueueActors.Remote;

/// <summary>
/// Transport adapter of the served queue (<c>akka.remote.adapters.bluesky-queue-guard</c>): closes
/// connections of peers outside <c>bluesky-queue.remote.allowed-peers</c> before the Akka handshake,
/// and drops every inbound frame <see cref="InboundPolicy"/> refuses before it is deserialized.
/// </summary>
public sealed class GuardTransportProvider : ITransportAdapterProvider
{
    /// <summary>The name the adapter is registered under in <c>akka.remote.adapters</c>.</summary>
    public const string AdapterName = "bluesky-queue-guard";

    /// <inheritdoc />
    public Transport Create(Transport wrappedTransport, ExtendedActorSystem system) =>
        new GuardTransport(wrappedTransport, system);
}

/// <summary>Wraps the TCP transport; addresses and scheme stay those of the wrapped transport.</summary>
internal sealed class GuardTransport : Transport
{
    private readonly Transport _inner;
    private readonly ExtendedActorSystem _system;
    private readonly ILoggingAdapter _log;
    private readonly Lazy<InboundPolicy> _policy;

    public GuardTransport(Transport inner, ExtendedActorSystem system)
    {
        _inner = inner;
        _system = system;
        System = inner.System;
        Config = inner.Config;
        _log = Logging.GetLogger(system, "bluesky-queue-guard");
        Peers = PeerAllowList.Parse(system.Settings.Config.GetStringList("bluesky-queue.remote.allowed-peers", []));
        _policy = new Lazy<InboundPolicy>(() => InboundPolicy.For(system));
    }

    public PeerAllowList Peers { get; }

    public override string SchemeIdentifier => _inner.SchemeIdentifier;

    public override long MaximumPayloadBytes => _inner.MaximumPayloadBytes;

    public override async Task<(Address, TaskCompletionSource<IAssociationEventListener>)> Listen()
    {
        // Built before listening: if this Akka version's wire format is not recognised, remoting fails to start.
        _ = _policy.Value;
        var (address, innerListener) = await _inner.Listen().ConfigureAwait(false);
        var upstream = new TaskCompletionSource<IAssociationEventListener>(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = upstream.Task.ContinueWith(t => innerListener.TrySetResult(new InboundGate(this, t.Result)),
            TaskContinuationOptions.OnlyOnRanToCompletion);
        _log.Info("Accepting connections from {0}; reachable paths: {1}", Peers,
            string.Join(", ", _system.Settings.Config.GetStringList("akka.remote.trusted-selection-paths", [])));
        return (address, upstream);
    }

    public override bool IsResponsibleFor(Address remote) => _inner.IsResponsibleFor(remote);

    public override async Task<AssociationHandle> Associate(Address remoteAddress)
    {
        if (!await AllowsHostAsync(remoteAddress.Host).ConfigureAwait(false))
        {
            _log.Warning("Not connecting to {0}: not in bluesky-queue.remote.allowed-peers ({1})", remoteAddress, Peers);
            throw new InvalidAssociationException($"{remoteAddress} is not an allowed peer");
        }
        var handle = await _inner.Associate(remoteAddress).ConfigureAwait(false);
        return new GuardedHandle(handle, this);
    }

    public override Task<bool> Shutdown() => _inner.Shutdown();

    public override Task<bool> ManagementCommand(object message) => _inner.ManagementCommand(message);

    internal ILoggingAdapter Log => _log;

    internal Verdict Inspect(ByteString frame, Address handleLocalAddress) =>
        _policy.Value.Inspect(frame, address => SameSystem(address, handleLocalAddress) || SameSystem(address, DefaultAddress()));

    private Address? DefaultAddress()
    {
        try
        {
            return _system.Provider.DefaultAddress;
        }
        catch (Exception)
        {
            return null; // remoting not started yet: the handle's own address is the reference
        }
    }

    private static bool SameSystem(Address a, Address? b) =>
        b is not null && a.Port == b.Port && string.Equals(a.System, b.System, StringComparison.Ordinal)
        && string.Equals(a.Host, b.Host, StringComparison.OrdinalIgnoreCase);

    private async Task<bool> AllowsHostAsync(string? host)
    {
        if (Peers.AllowsAny || Peers.Allows(host)) return true;
        if (string.IsNullOrEmpty(host) || IPAddress.TryParse(host, out _)) return false;
        try
        {
            var addresses = await Dns.GetHostAddressesAsync(host).ConfigureAwait(false);
            return addresses.Length > 0 && addresses.All(Peers.Allows);
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    /// <summary>Receives the wrapped transport's inbound connections; refuses peers outside the allow-list.</summary>
    private sealed class InboundGate(GuardTransport transport, IAssociationEventListener upstream) : IAssociationEventListener
    {
        public void Notify(IAssociationEvent ev)
        {
            if (ev is InboundAssociation inbound)
            {
                var peer = inbound.Association.RemoteAddress;
                if (!transport.Peers.Allows(peer.Host))
                {
                    transport.Log.Warning("Refused a connection from {0}: not in bluesky-queue.remote.allowed-peers ({1})",
                        peer.Host, transport.Peers);
                    inbound.Association.Disassociate("peer not allowed", transport.Log);
                    return;
                }
                upstream.Notify(new InboundAssociation(new GuardedHandle(inbound.Association, transport)));
                return;
            }
            upstream.Notify(ev);
        }
    }
}

/// <summary>One connection of the served queue, whose inbound frames pass through <see cref="InboundPolicy"/>.</summary>
internal sealed class GuardedHandle : AssociationHandle
{
    private readonly AssociationHandle _inner;

    public GuardedHandle(AssociationHandle inner, GuardTransport transport)
        : base(inner.LocalAddress, inner.RemoteAddress)
    {
        _inner = inner;
        _ = ReadHandlerSource.Task.ContinueWith(
            t => inner.ReadHandlerSource.TrySetResult(new Filter(this, transport, t.Result)),
            TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously);
    }

    public override bool Write(ByteString payload) => _inner.Write(payload);

#pragma warning disable CS0672 // Akka marks the abstract member obsolete, yet it is the one every handle implements.
    public override void Disassociate() => _inner.Disassociate("closed by the bluesky-queue guard", NoLogger.Instance);
#pragma warning restore CS0672

    private sealed class Filter(GuardedHandle handle, GuardTransport transport, IHandleEventListener upstream) : IHandleEventListener
    {
        private int _refused;

        public void Notify(IHandleEvent ev)
        {
            if (ev is InboundPayload inbound)
            {
                var verdict = transport.Inspect(inbound.Payload, handle.LocalAddress);
                switch (verdict.Kind)
                {
                    case VerdictKind.Refuse:
                        // One warning per connection; the rest at debug level, so a hostile peer cannot flood the log.
                        if (Interlocked.Increment(ref _refused) == 1)
                            transport.Log.Warning("Refused {0} from {1}: only the queue is reachable remotely", verdict.Reason, handle.RemoteAddress);
                        else
                            transport.Log.Debug("Refused {0} from {1}", verdict.Reason, handle.RemoteAddress);
                        return;
                    case VerdictKind.Malformed:
                        transport.Log.Warning("Closing the connection from {0}: malformed frame ({1})", handle.RemoteAddress, verdict.Reason);
                        handle._inner.Disassociate("malformed frame", transport.Log);
                        return;
                }
            }
            upstream.Notify(ev);
        }
    }
}

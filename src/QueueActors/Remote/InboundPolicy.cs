using Akka.Actor;
using Akka.Configuration;
using Google.Protobuf;

namespace QueueActors.Remote;

/// <summary>What <see cref="InboundPolicy"/> decided about one inbound frame.</summary>
internal enum VerdictKind
{
    /// <summary>Handed to Akka.Remote as it came.</summary>
    Pass,
    /// <summary>Dropped: it is addressed to something the service does not expose.</summary>
    Refuse,
    /// <summary>Dropped and the connection closed: it is not a frame Akka.Remote could have sent.</summary>
    Malformed,
}

/// <summary>The decision on one frame and, unless it passes, why.</summary>
internal readonly record struct Verdict(VerdictKind Kind, string? Reason = null)
{
    public static readonly Verdict Pass = new(VerdictKind.Pass);
}

/// <summary>
/// Decides, before anything is deserialized, whether an inbound Akka.Remote frame may reach the actor
/// system: only messages for the reachable paths (<c>akka.remote.trusted-selection-paths</c>, by default
/// <c>/user/bluesky-queue</c>), sent directly or as an actor selection, in the queue protocol's
/// serializer (or an <see cref="Identify"/>), from a sender that is not this system itself.
/// Akka.Remote's untrusted mode checks selections only; a peer that resolves any other path to an
/// actor reference could otherwise message every actor of the service.
/// </summary>
/// <remarks>
/// Frames are Akka's classic-remoting protobuf PDUs: <c>AkkaProtocolMessage{payload=1, instruction=2}</c>,
/// the payload an <c>AckAndEnvelopeContainer{ack=1, envelope=2}</c>, the envelope
/// <c>RemoteEnvelope{recipient=1, message=2, sender=4, seq=5}</c>. A frame where a singular field
/// appears twice is malformed here: Akka never writes one, and protobuf parsers disagree on which
/// copy wins, so refusing them keeps this check and Akka's own decoder reading the same recipient.
/// </remarks>
internal sealed class InboundPolicy
{
    private static readonly uint PayloadTag = LengthDelimited(1);
    private static readonly uint InstructionTag = LengthDelimited(2);

    private readonly IReadOnlyList<string[]> _reachable;
    private readonly int _protocolSerializerId;
    private readonly int _identifySerializerId;
    private readonly string _identifyManifest;
    private readonly int _selectionSerializerId;
    private readonly int _childNameType;

    /// <summary>A policy exposing <paramref name="reachablePaths"/> (such as <c>/user/bluesky-queue</c>).</summary>
    public InboundPolicy(IEnumerable<string> reachablePaths, int protocolSerializerId,
        int identifySerializerId, string identifyManifest, int selectionSerializerId, int childNameType)
    {
        _reachable = reachablePaths.Select(p => p.Trim('/').Split('/')).ToList();
        _protocolSerializerId = protocolSerializerId;
        _identifySerializerId = identifySerializerId;
        _identifyManifest = identifyManifest;
        _selectionSerializerId = selectionSerializerId;
        _childNameType = childNameType;
    }

    /// <summary>
    /// The policy of <paramref name="system"/>: its trusted selection paths, and the serializer ids and
    /// encodings its own serializers use (learned from them, so nothing internal to Akka is hard-coded).
    /// </summary>
    public static InboundPolicy For(ExtendedActorSystem system)
    {
        var paths = system.Settings.Config.GetStringList("akka.remote.trusted-selection-paths", []);
        if (paths.Count == 0)
            throw new ConfigurationException(
                "akka.remote.trusted-selection-paths is empty: the served queue would expose nothing");
        var serialization = system.Serialization;
        var identify = new Identify(null);
        var identifySerializer = serialization.FindSerializerFor(identify);
        var identifyManifest = Akka.Serialization.Serialization.ManifestFor(identifySerializer, identify);

        // Learn how this Akka version encodes a "child name" selection step by encoding one.
        var probe = new ActorSelectionMessage(identify, [new SelectChildName("probe")]);
        var selectionSerializer = serialization.FindSerializerFor(probe);
        var encoded = ReadSelection(ByteString.CopyFrom(selectionSerializer.ToBinary(probe)));
        if (encoded.Pattern.Count != 1 || encoded.Pattern[0].Matcher != "probe"
            || encoded.SerializerId != identifySerializer.Identifier || encoded.Manifest != identifyManifest)
            throw new InvalidOperationException(
                $"cannot recognise this Akka version's encoding of actor selections ({Convert.ToHexString(selectionSerializer.ToBinary(probe))})");

        return new InboundPolicy(paths, Serialization.QueueMessageSerializer.Id,
            identifySerializer.Identifier, identifyManifest, selectionSerializer.Identifier, encoded.Pattern[0].Type);
    }

    /// <summary>Inspects one frame; <paramref name="isLocal"/> tells whether an address is this system's own.</summary>
    public Verdict Inspect(ByteString frame, Func<Address, bool> isLocal)
    {
        try
        {
            return InspectPdu(frame, isLocal);
        }
        catch (InvalidProtocolBufferException e)
        {
            return new Verdict(VerdictKind.Malformed, e.Message);
        }
        catch (MalformedFrameException e)
        {
            return new Verdict(VerdictKind.Malformed, e.Message);
        }
    }

    private Verdict InspectPdu(ByteString frame, Func<Address, bool> isLocal)
    {
        ByteString? payload = null;
        bool instruction = false;
        var input = frame.CreateCodedInput();
        var seen = new FieldSet("AkkaProtocolMessage");
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            if (tag == PayloadTag) { seen.Once(1); payload = input.ReadBytes(); }
            else if (tag == InstructionTag) { seen.Once(2); instruction = true; input.SkipLastField(); }
            else input.SkipLastField();
        }
        // Akka reads a frame with an instruction as a control PDU (handshake, heartbeat, disassociate)
        // and ignores its payload; a frame with neither is rejected by Akka itself.
        if (instruction || payload is null || payload.IsEmpty) return Verdict.Pass;

        var envelope = ReadContainer(payload);
        if (envelope is null) return Verdict.Pass; // an acknowledgement only
        if (envelope.Recipient is null) return Refuse("a message without a recipient");
        if (envelope.Sender is not null && ActorPath.TryParseAddress(envelope.Sender, out var senderAddress)
                                        && isLocal(senderAddress))
            return Refuse($"a message to {envelope.Recipient} whose sender claims to be this system ({envelope.Sender})");

        var elements = PathElements(envelope.Recipient);
        if (elements is null) return Refuse($"a message to the unparseable path '{Printable(envelope.Recipient)}'");
        if (IsReachable(elements))
            return AllowedPayload(envelope.SerializerId, envelope.Manifest)
                ? Verdict.Pass
                : Refuse($"a message to {envelope.Recipient} in serializer {envelope.SerializerId} ('{Printable(envelope.Manifest)}')");

        if (elements.Length == 0 && envelope.SerializerId == _selectionSerializerId)
        {
            var selection = ReadSelection(envelope.Message);
            string target = "/" + string.Join("/", selection.Pattern.Select(p => p.Matcher));
            if (selection.Pattern.Any(p => p.Type != _childNameType))
                return Refuse($"an actor selection with wildcards or parent steps ({target})");
            if (!IsReachable(selection.Pattern.Select(p => p.Matcher).ToArray()))
                return Refuse($"an actor selection of {target}");
            return AllowedPayload(selection.SerializerId, selection.Manifest)
                ? Verdict.Pass
                : Refuse($"an actor selection of {target} carrying serializer {selection.SerializerId} ('{Printable(selection.Manifest)}')");
        }
        return Refuse($"a message to {Printable(envelope.Recipient)}");
    }

    private static Verdict Refuse(string reason) => new(VerdictKind.Refuse, reason);

    private bool AllowedPayload(int serializerId, string manifest) =>
        serializerId == _protocolSerializerId
        || (serializerId == _identifySerializerId && manifest == _identifyManifest);

    private bool IsReachable(string[] elements)
    {
        foreach (var path in _reachable)
            if (path.AsSpan().SequenceEqual(elements)) return true;
        return false;
    }

    /// <summary>The elements of an absolute actor path (uid dropped); null when it is not one.</summary>
    internal static string[]? PathElements(string path)
    {
        int scheme = path.IndexOf("://", StringComparison.Ordinal);
        if (scheme <= 0) return null;
        int slash = path.IndexOf('/', scheme + 3);
        if (slash < 0) return [];
        var rest = path[(slash + 1)..];
        int uid = rest.IndexOf('#');
        if (uid >= 0) rest = rest[..uid];
        return rest.Length == 0 ? [] : rest.Split('/');
    }

    private sealed record Envelope(string? Recipient, string? Sender, ByteString Message, int SerializerId, string Manifest);

    private static Envelope? ReadContainer(ByteString container)
    {
        Envelope? envelope = null;
        var input = container.CreateCodedInput();
        var seen = new FieldSet("AckAndEnvelopeContainer");
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            if (tag == LengthDelimited(1)) { seen.Once(1); input.SkipLastField(); }
            else if (tag == LengthDelimited(2)) { seen.Once(2); envelope = ReadEnvelope(input.ReadBytes()); }
            else input.SkipLastField();
        }
        return envelope;
    }

    private static Envelope ReadEnvelope(ByteString bytes)
    {
        string? recipient = null, sender = null;
        (ByteString Message, int SerializerId, string Manifest) payload = (ByteString.Empty, 0, "");
        var input = bytes.CreateCodedInput();
        var seen = new FieldSet("RemoteEnvelope");
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            if (tag == LengthDelimited(1)) { seen.Once(1); recipient = ReadActorRef(input.ReadBytes()); }
            else if (tag == LengthDelimited(2)) { seen.Once(2); payload = ReadPayload(input.ReadBytes()); }
            else if (tag == LengthDelimited(4)) { seen.Once(4); sender = ReadActorRef(input.ReadBytes()); }
            else if (tag == WireFormat.MakeTag(5, WireFormat.WireType.Fixed64)) { seen.Once(5); input.SkipLastField(); }
            else input.SkipLastField();
        }
        return new Envelope(recipient, sender, payload.Message, payload.SerializerId, payload.Manifest);
    }

    private static string ReadActorRef(ByteString bytes)
    {
        string path = "";
        var input = bytes.CreateCodedInput();
        var seen = new FieldSet("ActorRefData");
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            if (tag == LengthDelimited(1)) { seen.Once(1); path = input.ReadString(); }
            else input.SkipLastField();
        }
        return path;
    }

    private static (ByteString Message, int SerializerId, string Manifest) ReadPayload(ByteString bytes)
    {
        var message = ByteString.Empty;
        int serializerId = 0;
        string manifest = "";
        var input = bytes.CreateCodedInput();
        var seen = new FieldSet("Payload");
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            if (tag == LengthDelimited(1)) { seen.Once(1); message = input.ReadBytes(); }
            else if (tag == WireFormat.MakeTag(2, WireFormat.WireType.Varint)) { seen.Once(2); serializerId = input.ReadInt32(); }
            else if (tag == LengthDelimited(3)) { seen.Once(3); manifest = input.ReadBytes().ToStringUtf8(); }
            else input.SkipLastField();
        }
        return (message, serializerId, manifest);
    }

    private sealed record Selection(int SerializerId, string Manifest, IReadOnlyList<(int Type, string Matcher)> Pattern);

    // Akka.NET's SelectionEnvelope{payload=1 (Payload), pattern=2 (repeated Selection{type=1, matcher=2})}.
    private static Selection ReadSelection(ByteString bytes)
    {
        (ByteString Message, int SerializerId, string Manifest) payload = (ByteString.Empty, 0, "");
        var pattern = new List<(int, string)>();
        var input = bytes.CreateCodedInput();
        var seen = new FieldSet("SelectionEnvelope");
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            if (tag == LengthDelimited(1)) { seen.Once(1); payload = ReadPayload(input.ReadBytes()); }
            else if (tag == LengthDelimited(2)) pattern.Add(ReadSelectionStep(input.ReadBytes()));
            else input.SkipLastField();
        }
        return new Selection(payload.SerializerId, payload.Manifest, pattern);
    }

    private static (int Type, string Matcher) ReadSelectionStep(ByteString bytes)
    {
        int type = 0;
        string matcher = "";
        var input = bytes.CreateCodedInput();
        var seen = new FieldSet("Selection");
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            if (tag == WireFormat.MakeTag(1, WireFormat.WireType.Varint)) { seen.Once(1); type = input.ReadEnum(); }
            else if (tag == LengthDelimited(2)) { seen.Once(2); matcher = input.ReadString(); }
            else input.SkipLastField();
        }
        return (type, matcher);
    }

    private static uint LengthDelimited(int field) => WireFormat.MakeTag(field, WireFormat.WireType.LengthDelimited);

    private static string Printable(string s)
    {
        var cut = s.Length > 120 ? s[..120] + "…" : s;
        return string.Concat(cut.Select(c => char.IsControl(c) ? '?' : c));
    }

    /// <summary>Tracks which singular fields of one message were read, refusing a second copy.</summary>
    private struct FieldSet(string message)
    {
        private ulong _seen;

        public void Once(int field)
        {
            ulong bit = 1UL << field;
            if ((_seen & bit) != 0) throw new MalformedFrameException($"{message} field {field} appears twice");
            _seen |= bit;
        }
    }

    private sealed class MalformedFrameException(string message) : Exception(message);
}

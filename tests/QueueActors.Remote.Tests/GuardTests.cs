using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Akka.TestKit.Xunit2;
using Google.Protobuf;
using QueueActors.Serialization;
using QueueActors.Storage;
using Xunit;

namespace QueueActors.Remote.Tests;

/// <summary>The guard's frame policy, on frames built byte by byte the way Akka.Remote writes them.</summary>
public sealed class InboundPolicyTests() : TestKit(QueueRemoteHosting.ServiceConfig(new QueueRemoteOptions { Port = 0 }))
{
    private const string Here = "akka.tcp://bluesky-queue@127.0.0.1:8110";
    private const string Peer = "akka.tcp://poster@127.0.0.1:40000/temp/a";
    private static readonly Address Local = Address.Parse(Here);

    private InboundPolicy Policy => InboundPolicy.For((ExtendedActorSystem)Sys);

    [Fact]
    public void A_selection_of_the_queue_carrying_a_protocol_message_or_an_Identify_passes()
    {
        Assert.Equal(VerdictKind.Pass, Inspect(Selection(new GetStats(), "user", "bluesky-queue")));
        Assert.Equal(VerdictKind.Pass, Inspect(Selection(new Identify(1), "user", "bluesky-queue")));
    }

    [Theory]
    [InlineData("user", "someone-else")]
    [InlineData("user", "bluesky-queue", "store")]
    [InlineData("system", "remote-watcher")]
    [InlineData("user")]
    public void A_selection_of_any_other_path_is_refused(params string[] path) =>
        Assert.Equal(VerdictKind.Refuse, Inspect(Selection(new GetStats(), path)));

    [Fact]
    public void A_selection_with_wildcards_or_parent_steps_is_refused_even_when_it_spells_the_queue()
    {
        var wildcard = new ActorSelectionMessage(new GetStats(), [new SelectChildName("user"), new SelectChildPattern("bluesky-queue")]);
        Assert.Equal(VerdictKind.Refuse, Inspect(SelectionOf(wildcard)));
        var detour = new ActorSelectionMessage(new GetStats(),
            [new SelectChildName("user"), new SelectChildName("x"), SelectParent.Instance, new SelectChildName("bluesky-queue")]);
        Assert.Equal(VerdictKind.Refuse, Inspect(SelectionOf(detour)));
    }

    [Fact]
    public void A_selection_of_the_queue_carrying_anything_but_the_protocol_is_refused()
    {
        Assert.Equal(VerdictKind.Refuse, Inspect(Selection(PoisonPill.Instance, "user", "bluesky-queue")));
        Assert.Equal(VerdictKind.Refuse, Inspect(Selection("a string", "user", "bluesky-queue")));
    }

    [Theory]
    [InlineData(Here + "/user/bluesky-queue")]
    [InlineData(Here + "/user/bluesky-queue#12345")]
    public void A_protocol_message_sent_straight_to_the_queue_passes(string recipient) =>
        Assert.Equal(VerdictKind.Pass, Inspect(Direct(recipient, new GetStats())));

    [Theory]
    [InlineData(Here + "/user/someone-else")]
    [InlineData(Here + "/user/bluesky-queue/store")]
    [InlineData(Here + "/user/bluesky-queue/")]
    [InlineData(Here + "/user//bluesky-queue")]
    [InlineData(Here + "/user/Bluesky-Queue")]
    [InlineData(Here + "/user/bluesky%2Dqueue")]
    [InlineData(Here + "/system/remote-watcher")]
    [InlineData(Here + "/temp/a")]
    [InlineData(Here)]
    [InlineData("/user/bluesky-queue")]
    [InlineData("")]
    public void A_message_sent_straight_to_anything_else_is_refused(string recipient) =>
        Assert.Equal(VerdictKind.Refuse, Inspect(Direct(recipient, new GetStats())));

    [Fact]
    public void Only_the_protocol_serializer_and_Identify_reach_the_queue_directly()
    {
        Assert.Equal(VerdictKind.Pass, Inspect(Direct(Here + "/user/bluesky-queue", new Identify(1))));
        Assert.Equal(VerdictKind.Refuse, Inspect(Direct(Here + "/user/bluesky-queue", PoisonPill.Instance)));
        Assert.Equal(VerdictKind.Refuse, Inspect(Direct(Here + "/user/bluesky-queue", Kill.Instance)));
        Assert.Equal(VerdictKind.Refuse, Inspect(Direct(Here + "/user/bluesky-queue", "text")));
        Assert.Equal(VerdictKind.Refuse, Inspect(Envelope(Here + "/user/bluesky-queue", Payload([1, 2, 3], 0, ""), Peer)));
    }

    [Fact]
    public void A_message_whose_sender_claims_to_be_this_system_is_refused()
    {
        Assert.Equal(VerdictKind.Refuse,
            Inspect(Envelope(Here + "/user/bluesky-queue", PayloadOf(new GetStats()), Here + "/user/someone-else")));
        Assert.Equal(VerdictKind.Refuse,
            Inspect(Envelope(Here + "/user/bluesky-queue", PayloadOf(new GetStats()), "akka.tcp://bluesky-queue@127.0.0.1:8110/user/x")));
        Assert.Equal(VerdictKind.Pass,
            Inspect(Envelope(Here + "/user/bluesky-queue", PayloadOf(new GetStats()), "akka.tcp://bluesky-queue@127.0.0.1:8111/temp/x")));
    }

    [Fact]
    public void Control_frames_and_bare_acknowledgements_pass()
    {
        var control = Message(Bytes(2, Message(Varint(1, 3))));
        Assert.Equal(VerdictKind.Pass, Inspect(control));
        var ackOnly = Message(Bytes(1, Message(Bytes(1, Message(Fixed64(1, 7))))));
        Assert.Equal(VerdictKind.Pass, Inspect(ackOnly));
    }

    [Fact]
    public void A_frame_with_a_singular_field_twice_is_malformed()
    {
        // Decoders disagree on which copy wins; Akka never writes two, so neither may anyone else.
        var twoRecipients = Message(Bytes(1, Message(Bytes(2, Message(
            Bytes(1, Message(Bytes(1, Str(Here + "/user/bluesky-queue")))),
            Bytes(1, Message(Bytes(1, Str(Here + "/user/someone-else")))),
            Bytes(2, PayloadOf(new GetStats())))))));
        Assert.Equal(VerdictKind.Malformed, Inspect(twoRecipients));

        var twoPaths = Message(Bytes(1, Message(Bytes(2, Message(
            Bytes(1, Message(Bytes(1, Str(Here + "/user/bluesky-queue")), Bytes(1, Str(Here + "/user/someone-else")))),
            Bytes(2, PayloadOf(new GetStats())))))));
        Assert.Equal(VerdictKind.Malformed, Inspect(twoPaths));

        var direct = Direct(Here + "/user/bluesky-queue", new GetStats());
        var twoEnvelopes = Message(Bytes(1, Message(Bytes(2, EnvelopeBody(Here + "/user/bluesky-queue", PayloadOf(new GetStats()), Peer)),
            Bytes(2, EnvelopeBody(Here + "/user/someone-else", PayloadOf(new GetStats()), Peer)))));
        Assert.Equal(VerdictKind.Pass, Inspect(direct));
        Assert.Equal(VerdictKind.Malformed, Inspect(twoEnvelopes));
    }

    [Fact]
    public void Garbage_and_cut_frames_are_malformed()
    {
        Assert.Equal(VerdictKind.Malformed, Inspect(ByteString.CopyFrom(Enumerable.Repeat((byte)0xFF, 20).ToArray())));
        var frame = Direct(Here + "/user/bluesky-queue", new GetStats());
        Assert.Equal(VerdictKind.Malformed, Inspect(ByteString.CopyFrom(frame.ToByteArray()[..^3])));
    }

    private VerdictKind Inspect(ByteString frame) => Policy.Inspect(frame, a => a == Local).Kind;

    // AkkaProtocolMessage{payload=1} > AckAndEnvelopeContainer{envelope=2} > RemoteEnvelope{recipient=1, message=2, sender=4}
    private static ByteString Envelope(string recipient, ByteString payload, string? sender) =>
        Message(Bytes(1, Message(Bytes(2, EnvelopeBody(recipient, payload, sender)))));

    private static ByteString EnvelopeBody(string recipient, ByteString payload, string? sender)
    {
        var fields = new List<ByteString> { Bytes(1, Message(Bytes(1, Str(recipient)))), Bytes(2, payload) };
        if (sender is not null) fields.Add(Bytes(4, Message(Bytes(1, Str(sender)))));
        fields.Add(Fixed64(5, ulong.MaxValue));
        return Message([.. fields]);
    }

    private ByteString Direct(string recipient, object message) => Envelope(recipient, PayloadOf(message), Peer);

    private ByteString Selection(object message, params string[] path) =>
        SelectionOf(new ActorSelectionMessage(message, path.Select(p => (SelectionPathElement)new SelectChildName(p)).ToArray()));

    private ByteString SelectionOf(ActorSelectionMessage selection) => Envelope(Here, PayloadOf(selection), Peer);

    private ByteString PayloadOf(object message)
    {
        var serializer = Sys.Serialization.FindSerializerFor(message);
        return Payload(serializer.ToBinary(message), serializer.Identifier,
            Akka.Serialization.Serialization.ManifestFor(serializer, message));
    }

    private static ByteString Payload(byte[] bytes, int serializerId, string manifest) =>
        Message(Bytes(1, ByteString.CopyFrom(bytes)), Varint(2, serializerId), Bytes(3, Str(manifest)));

    private static ByteString Str(string s) => ByteString.CopyFromUtf8(s);

    private static ByteString Message(params ByteString[] fields) => ByteString.CopyFrom(fields.SelectMany(f => f.ToByteArray()).ToArray());

    private static ByteString Bytes(int field, ByteString value) => Write(o =>
    {
        o.WriteTag(field, WireFormat.WireType.LengthDelimited);
        o.WriteBytes(value);
    });

    private static ByteString Varint(int field, long value) => Write(o =>
    {
        o.WriteTag(field, WireFormat.WireType.Varint);
        o.WriteInt64(value);
    });

    private static ByteString Fixed64(int field, ulong value) => Write(o =>
    {
        o.WriteTag(field, WireFormat.WireType.Fixed64);
        o.WriteFixed64(value);
    });

    private static ByteString Write(Action<CodedOutputStream> write)
    {
        using var buffer = new MemoryStream();
        using (var output = new CodedOutputStream(buffer, leaveOpen: true)) write(output);
        return ByteString.CopyFrom(buffer.ToArray());
    }
}

/// <summary>The peer allow-list: parsing, and a service that refuses a peer outside it.</summary>
public sealed class PeerAllowListTests
{
    [Fact]
    public void Entries_are_addresses_ranges_or_a_star()
    {
        var list = PeerAllowList.Parse(["10.0.0.0/8", "192.168.1.7", "::1", "fd00::/8"]);
        Assert.True(list.Allows(IPAddress.Parse("10.200.3.4")));
        Assert.True(list.Allows(IPAddress.Parse("::ffff:10.1.2.3")));
        Assert.True(list.Allows("192.168.1.7"));
        Assert.True(list.Allows("[::1]"));
        Assert.True(list.Allows("fd12::1"));
        Assert.False(list.Allows("192.168.1.8"));
        Assert.False(list.Allows("127.0.0.1"));
        Assert.False(list.Allows("localhost")); // names are not trusted, only addresses
        Assert.False(PeerAllowList.Parse([]).Allows("127.0.0.1"));
        Assert.True(PeerAllowList.Parse(["*"]).Allows("203.0.113.9"));
    }

    [Theory]
    [InlineData("10.0.0.0/33")]
    [InlineData("example.org")]
    [InlineData("10.0.0")]
    [InlineData("10/8")]
    public void A_bad_entry_is_named(string entry)
    {
        var error = Assert.Throws<ConfigurationException>(() => PeerAllowList.Parse([entry]));
        Assert.Contains(entry, error.Message);
        Assert.Throws<ConfigurationException>(() => QueueRemoteHosting.ServiceConfig(new QueueRemoteOptions { AllowedPeers = [entry] }));
    }

    [Fact]
    public async Task A_peer_outside_the_list_is_disconnected_before_it_reaches_anything()
    {
        await using var service = await ServedQueue.StartAsync(o => o.AllowedPeers = ["10.0.0.0/8"]);
        await using var poster = await PosterHost.StartAsync(service.Address);
        var client = new QueueClient(poster.Queue, TimeSpan.FromSeconds(2), retries: 0);

        await Assert.ThrowsAsync<AskTimeoutException>(() => client.EnqueueAsync(Remote.JobFor(Remote.Alice)));

        Assert.Equal(new QueueStats(0, 0, 0, 0), await service.StatsFromDbAsync());
        Assert.True(service.Logs.Contains("Refused a connection from"),
            string.Join("\n", service.Logs.Messages(LogLevel.WarningLevel)));
    }

    [Fact]
    public async Task A_peer_inside_the_list_is_served()
    {
        await using var service = await ServedQueue.StartAsync(o => o.AllowedPeers = ["10.0.0.0/8", "127.0.0.1"]);
        await using var poster = await PosterHost.StartAsync(service.Address);
        var id = await poster.Client.EnqueueAsync(Remote.JobFor(Remote.Alice));
        Assert.Equal(id, (await poster.Client.ClaimNextAsync())!.Id);
    }
}

/// <summary>How a poster names the service.</summary>
public sealed class ServiceAddressTests
{
    [Theory]
    [InlineData("akka.tcp://bluesky-queue@127.0.0.1:8110")]
    [InlineData("akka.tcp://bluesky-queue@127.0.0.1:8110/")]
    [InlineData("akka.tcp://bluesky-queue@127.0.0.1:8110/user/bluesky-queue")]
    [InlineData(" akka.tcp://bluesky-queue@127.0.0.1:8110/user/bluesky-queue/ ")]
    public void A_service_address_with_or_without_the_queue_path_names_the_queue(string address) =>
        Assert.Equal("akka.tcp://bluesky-queue@127.0.0.1:8110/user/bluesky-queue", QueueRemoteHosting.QueuePath(address));

    [Theory]
    [InlineData("127.0.0.1:8110")]
    [InlineData("akka://bluesky-queue")]
    [InlineData("akka.tcp://bluesky-queue@127.0.0.1:8110/user/someone-else")]
    [InlineData("bluesky-queue")]
    public void Anything_else_is_an_ArgumentException_that_shows_the_expected_form(string address)
    {
        var error = Assert.Throws<ArgumentException>(() => QueueRemoteHosting.QueuePath(address));
        Assert.Contains("bluesky-queue", error.Message);
    }
}

/// <summary>Options that would advertise an address no peer can use are refused.</summary>
public sealed class RemoteOptionsTests
{
    [Fact]
    public void Binding_every_interface_needs_a_public_host_name()
    {
        var error = Assert.Throws<ArgumentException>(() =>
            QueueRemoteHosting.ServiceConfig(new QueueRemoteOptions { Hostname = "0.0.0.0" }));
        Assert.Contains("public host", error.Message);
        var config = QueueRemoteHosting.ServiceConfig(new QueueRemoteOptions { Hostname = "0.0.0.0", PublicHostname = "10.0.0.7", Port = 9000 });
        Assert.Equal("10.0.0.7", config.GetString("akka.remote.dot-netty.tcp.public-hostname"));
        Assert.Equal(9000, config.GetInt("akka.remote.dot-netty.tcp.port"));
    }

    [Fact]
    public void The_service_defaults_are_loopback_port_8110_untrusted_and_strict()
    {
        var config = QueueRemoteHosting.ServiceConfig();
        Assert.Equal("127.0.0.1", config.GetString("akka.remote.dot-netty.tcp.hostname"));
        Assert.Equal("127.0.0.1", config.GetString("akka.remote.dot-netty.tcp.public-hostname"));
        Assert.Equal(QueueRemoteOptions.DefaultPort, config.GetInt("akka.remote.dot-netty.tcp.port"));
        Assert.True(config.GetBoolean("akka.remote.untrusted-mode"));
        Assert.Equal(["/user/bluesky-queue"], config.GetStringList("akka.remote.trusted-selection-paths"));
        Assert.Equal(["bluesky-queue-guard"], config.GetStringList("akka.remote.dot-netty.tcp.applied-adapters"));
        Assert.Equal(["127.0.0.0/8", "::1/128"], config.GetStringList("bluesky-queue.remote.allowed-peers"));
        Assert.False(config.GetBoolean("akka.actor.serialization-settings.allow-unregistered-types"));
        Assert.False(config.GetBoolean("akka.remote.dot-netty.tcp.enable-ssl"));

        var client = QueueRemoteHosting.ClientConfig;
        Assert.Equal(0, client.GetInt("akka.remote.dot-netty.tcp.port"));
        Assert.Empty(client.GetStringList("akka.remote.trusted-selection-paths"));
        Assert.Empty(client.GetStringList("akka.remote.dot-netty.tcp.applied-adapters"));
        Assert.False(client.GetBoolean("akka.actor.serialization-settings.allow-unregistered-types"));
    }
}

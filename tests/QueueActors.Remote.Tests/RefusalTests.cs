using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Akka.Serialization;
using QueueActors.Storage;
using Xunit;

namespace QueueActors.Remote.Tests;

/// <summary>What a peer may not do to the served queue, and that the service survives each attempt.</summary>
public sealed class RefusalTests : IAsyncLifetime
{
    private readonly ConcurrentQueue<object> _received = new();
    private ServedQueue _service = null!;
    private PosterHost _poster = null!;

    public async Task InitializeAsync()
    {
        _service = await ServedQueue.StartAsync();
        _service.System.ActorOf(Props.Create(() => new Recorder(_received)), "someone-else");
        _poster = await PosterHost.StartAsync(_service.Address);
    }

    public async Task DisposeAsync()
    {
        await _poster.DisposeAsync();
        await _service.DisposeAsync();
    }

    [Fact]
    public async Task A_selection_of_any_other_path_is_dropped()
    {
        foreach (var path in new[] { "/user/someone-else", "/user/bluesky-queue/store", "/system/remote-watcher", "/user/*", "/user/bluesky-*" })
        {
            var selection = _poster.System.ActorSelection(_service.SystemAddress + path);
            selection.Tell(new GetStats());
            await Assert.ThrowsAsync<AskTimeoutException>(() => selection.Ask<object>(new Identify(path), Remote.RefusalWait));
        }
        await AssertServiceWorks();
        Assert.Empty(_received);
        Assert.True(_service.Logs.Contains("Refused an actor selection of /user/someone-else", LogLevel.DebugLevel)
                    || _service.Logs.Contains("Refused an actor selection", LogLevel.WarningLevel),
            string.Join("\n", _service.Logs.Messages(LogLevel.WarningLevel)));
    }

    [Fact]
    public async Task A_message_sent_straight_to_another_actor_is_dropped_before_it_is_read()
    {
        // Untrusted mode alone lets these through: a peer can resolve any path to a reference.
        _poster.Resolve(_service.SystemAddress + "/user/someone-else").Tell(new GetStats());
        _poster.Resolve(_service.SystemAddress + "/user/someone-else").Tell(new Identify("x"));
        _poster.Resolve(_service.SystemAddress + "/system/remote-watcher").Tell(new GetStats());
        // The store behind the manager must not take an enqueue that skipped the manager.
        _poster.Resolve(_service.SystemAddress + "/user/bluesky-queue/store").Tell(new Enqueue(Remote.JobFor(Remote.Alice)));
        // A PoisonPill for the queue itself is refused (by the guard and by untrusted mode).
        _poster.Resolve(_service.Address).Tell(PoisonPill.Instance);

        await Task.Delay(Remote.RefusalWait);
        await AssertServiceWorks();
        Assert.Empty(_received);
        Assert.Equal(new QueueStats(1, 0, 0, 0), await _service.StatsFromDbAsync()); // only AssertServiceWorks's job
        Assert.True(_service.Logs.Contains("Refused a message to akka.tcp://bluesky-queue@", LogLevel.DebugLevel),
            string.Join("\n", _service.Logs.Messages(LogLevel.DebugLevel).Where(m => m.Contains("Refused"))));
    }

    [Fact]
    public async Task A_request_whose_sender_claims_to_be_another_actor_of_the_service_is_dropped()
    {
        // Otherwise the queue would answer into the service's own actors on a peer's behalf.
        var spoofedSender = _poster.Resolve(_service.SystemAddress + "/user/someone-else");
        _poster.Resolve(_service.Address).Tell(new GetStats(), spoofedSender);
        _poster.System.ActorSelection(_service.Address).Tell(new GetStats(), spoofedSender);

        await Task.Delay(Remote.RefusalWait);
        await AssertServiceWorks();
        Assert.Empty(_received);
    }

    [Fact]
    public async Task Garbage_on_the_port_does_not_take_the_service_down()
    {
        List<byte[]> frames =
        [
            RandomNumberGenerator.GetBytes(4096),                               // noise
            [.. LittleEndian(int.MaxValue), .. RandomNumberGenerator.GetBytes(64)],// an absurd frame length
            [.. LittleEndian(200), .. RandomNumberGenerator.GetBytes(200)],     // a frame of noise
            [.. LittleEndian(-5)],                                              // a negative length
            Frame(Encoding.UTF8.GetBytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n")), // someone's browser
        ];
        foreach (var bytes in frames)
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(IPAddress.Loopback, _service.Port);
            var stream = tcp.GetStream();
            try
            {
                await stream.WriteAsync(bytes);
                await stream.FlushAsync();
            }
            catch (IOException)
            {
                // The service may close the connection while the noise is still being written.
            }
        }
        // A connection that sends nothing at all, and one that goes away mid-frame.
        using (var idle = new TcpClient()) await idle.ConnectAsync(IPAddress.Loopback, _service.Port);
        using (var cut = new TcpClient())
        {
            await cut.ConnectAsync(IPAddress.Loopback, _service.Port);
            await cut.GetStream().WriteAsync(LittleEndian(1000));
        }

        await AssertServiceWorks();
        await using var another = await PosterHost.StartAsync(_service.Address, "late-poster");
        Assert.Equal(new QueueStats(1, 0, 0, 0), await another.Client.StatsAsync());
    }

    [Fact]
    public async Task Payloads_with_an_unknown_manifest_or_malformed_json_are_rejected_and_logged()
    {
        // A peer with a serializer of its own under our identifier: it writes whatever manifest and bytes it likes.
        var config = ConfigurationFactory.ParseString($$"""
            akka.actor.provider = remote
            akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
            akka.actor.serializers.rogue = "{{typeof(RogueSerializer).AssemblyQualifiedName}}"
            akka.actor.serialization-bindings { "{{typeof(RoguePayload).AssemblyQualifiedName}}" = rogue }
            akka.loglevel = WARNING
            """);
        using var rogue = ActorSystem.Create("rogue", config);
        var queue = rogue.ActorSelection(_service.Address);
        var payloads = new[]
        {
            new RoguePayload("no-such-manifest", "{}"u8.ToArray()),
            new RoguePayload("enqueue", "{not json"u8.ToArray()),
            new RoguePayload("enqueue", """{"job": {"text": "typo", "expected_handle": "alice.bsky.social", "not_befor": null}}"""u8.ToArray()),
            new RoguePayload("enqueue", """{"job": {"expected_handle": "alice.bsky.social"}}"""u8.ToArray()),
            new RoguePayload("enqueue", """{"job": {"text": null, "expected_handle": "alice.bsky.social"}}"""u8.ToArray()),
            new RoguePayload("enqueue", RandomNumberGenerator.GetBytes(300)),
            new RoguePayload("updated", """{"job_id": "x", "status": "exploded"}"""u8.ToArray()),
        };
        foreach (var payload in payloads)
            await Assert.ThrowsAsync<AskTimeoutException>(() => queue.Ask<object>(payload, TimeSpan.FromMilliseconds(500)));

        await Task.Delay(Remote.RefusalWait);
        Assert.Equal(new QueueStats(0, 0, 0, 0), await _service.StatsFromDbAsync());
        var errors = string.Join("\n", _service.Logs.Messages(LogLevel.DebugLevel));
        Assert.Contains("unknown manifest 'no-such-manifest'", errors);
        Assert.Contains("malformed 'enqueue' payload", errors);
        await AssertServiceWorks();
    }

    private async Task AssertServiceWorks()
    {
        var id = await _poster.Client.EnqueueAsync(Remote.JobFor(Remote.Alice, $"still here {Guid.NewGuid():N}"));
        Assert.NotNull(await _poster.Client.GetJobAsync(id));
    }

    private static byte[] LittleEndian(int value) => BitConverter.IsLittleEndian
        ? BitConverter.GetBytes(value)
        : BitConverter.GetBytes(value).Reverse().ToArray();

    private static byte[] Frame(byte[] body) => [.. LittleEndian(body.Length), .. body];
}

/// <summary>Whatever a hostile peer wants to put on the wire under the queue's serializer id.</summary>
public sealed record RoguePayload(string Manifest, byte[] Bytes);

/// <summary>Writes a <see cref="RoguePayload"/> as-is, claiming to be the queue's serializer.</summary>
public sealed class RogueSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    public override int Identifier => QueueActors.Serialization.QueueMessageSerializer.Id;
    public override string Manifest(object o) => ((RoguePayload)o).Manifest;
    public override byte[] ToBinary(object obj) => ((RoguePayload)obj).Bytes;
    public override object FromBinary(byte[] bytes, string manifest) => new RoguePayload(manifest, bytes);
}

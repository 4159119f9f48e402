using System.Text;
using System.Text.Json;
using Akka;
using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;

namespace QueueActors;

/// <summary>How the served queue listens; unset members keep the <c>hocon/remote.hocon</c> defaults.</summary>
public sealed class QueueRemoteOptions
{
    /// <summary>The port <c>bsq serve</c> listens on unless told otherwise.</summary>
    public const int DefaultPort = 8110;

    /// <summary>The address to bind (default <c>127.0.0.1</c>; <c>0.0.0.0</c> for every interface).</summary>
    public string? Hostname { get; set; }

    /// <summary>The host name peers use to reach the service (default: <see cref="Hostname"/>).</summary>
    public string? PublicHostname { get; set; }

    /// <summary>The TCP port (default <see cref="DefaultPort"/>; 0 picks a free one).</summary>
    public int? Port { get; set; }

    /// <summary>IP addresses or CIDR ranges allowed to connect, or <c>*</c> (default: loopback only).</summary>
    public IReadOnlyList<string>? AllowedPeers { get; set; }
}

/// <summary>
/// Akka.Remote set-up of both ends: the served queue (<see cref="WithBlueskyQueueRemoting"/>) and poster
/// processes that use it from elsewhere (<see cref="WithBlueskyQueueClient"/>).
/// </summary>
public static class QueueRemoteHosting
{
    /// <summary>The name of the served ActorSystem, part of the service's address.</summary>
    public const string ServiceSystemName = "bluesky-queue";

    /// <summary>The path of the queue inside the served system.</summary>
    public const string ServicePath = "/user/" + QueueManager.ActorName;

    /// <summary>The name of the poster-side forwarder to the remote queue.</summary>
    public const string ClientActorName = "bluesky-queue-client";

    private const string ServiceSection = "bluesky-queue-service";

    /// <summary>The remote HOCON (<c>hocon/remote.hocon</c>): the shared part and the service section.</summary>
    public static string RemoteHocon => QueueHostingExtensions.ReadResource("QueueActors.remote.hocon");

    /// <summary>The settings a poster's ActorSystem needs (serializer, strict serialization, loopback, port 0).</summary>
    public static Config ClientConfig => SharedConfig();

    /// <summary>The settings of the served system: the client settings plus the service section (guard, trusted path, port).</summary>
    public static Config ServiceConfig(QueueRemoteOptions? options = null)
    {
        var remote = ConfigurationFactory.ParseString(RemoteHocon);
        var service = remote.GetConfig(ServiceSection).WithFallback(SharedConfig(remote));
        return options is null ? service : OptionsConfig(options).WithFallback(service);
    }

    /// <summary>
    /// Serves this system's queue over Akka.Remote: binds <c>127.0.0.1:8110</c> unless <paramref name="configure"/>
    /// says otherwise, accepts only peers in the allow-list, and lets them reach only <c>/user/bluesky-queue</c>.
    /// Combine with <see cref="QueueHostingExtensions.WithBlueskyQueue"/> in a system named <see cref="ServiceSystemName"/>.
    /// On shutdown (Ctrl-C, SIGTERM, host stop) the queue is stopped first, while remoting is still up, so the
    /// answers it sends as it stops (including "stopping" errors for writes not yet committed) reach the posters.
    /// </summary>
    public static AkkaConfigurationBuilder WithBlueskyQueueRemoting(
        this AkkaConfigurationBuilder builder, Action<QueueRemoteOptions>? configure = null)
    {
        var options = new QueueRemoteOptions();
        configure?.Invoke(options);
        builder.AddHocon(ServiceConfig(), HoconAddMode.Append);
        builder.AddHocon(OptionsConfig(options), HoconAddMode.Prepend);
        return builder.WithActors((system, _) =>
        {
            var shutdown = CoordinatedShutdown.Get(system);
            shutdown.AddTask(CoordinatedShutdown.PhaseServiceRequestsDone, "stop-bluesky-queue", async () =>
            {
                try
                {
                    var queue = await system.ActorSelection(ServicePath).ResolveOne(TimeSpan.FromSeconds(3));
                    await queue.GracefulStop(TimeSpan.FromSeconds(10));
                }
                catch (Exception e) when (e is ActorNotFoundException or OperationCanceledException)
                {
                    // Already stopped, or it took too long: the actor system's own shutdown stops it.
                }
                return Done.Instance;
            });
        });
    }

    /// <summary>
    /// Makes this (poster) system a client of the queue served at <paramref name="serviceAddress"/>
    /// (<c>akka.tcp://bluesky-queue@127.0.0.1:8110</c>, with or without <c>/user/bluesky-queue</c>): adds the
    /// remote settings (loopback, a free port) and registers, under the <see cref="QueueManager"/> key of the
    /// <see cref="ActorRegistry"/>, a local actor that forwards every request there. Poster code is then the
    /// same as with an in-process queue: <c>new QueueClient(registry.Get&lt;QueueManager&gt;())</c>.
    /// </summary>
    public static AkkaConfigurationBuilder WithBlueskyQueueClient(this AkkaConfigurationBuilder builder, string serviceAddress)
    {
        string path = QueuePath(serviceAddress);
        builder.AddHocon(SharedConfig(), HoconAddMode.Append);
        return builder.WithActors((system, registry) =>
        {
            var forwarder = system.ActorOf(Props.Create(() => new RemoteQueueForwarder(path)), ClientActorName);
            registry.Register<QueueManager>(forwarder);
        });
    }

    /// <summary>
    /// The full path of the remote queue for a service address given with or without <c>/user/bluesky-queue</c>;
    /// an <see cref="ArgumentException"/> says what is wrong with any other string.
    /// </summary>
    public static string QueuePath(string serviceAddress)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(serviceAddress);
        var trimmed = serviceAddress.Trim().TrimEnd('/');
        if (!ActorPath.TryParse(trimmed, out var path) || path.Address.Host is null || path.Address.Port is null)
            throw new ArgumentException(
                $"'{serviceAddress}' is not a service address such as akka.tcp://{ServiceSystemName}@127.0.0.1:{QueueRemoteOptions.DefaultPort}",
                nameof(serviceAddress));
        var elements = string.Join("/", path.Elements);
        if (elements.Length == 0) return $"{path.Address}{ServicePath}";
        if ("/" + elements == ServicePath) return $"{path.Address}{ServicePath}";
        throw new ArgumentException(
            $"'{serviceAddress}' names {("/" + elements)}; the queue is at {ServicePath}", nameof(serviceAddress));
    }

    /// <summary>The address the queue of <paramref name="system"/> is reached at, with the port actually bound.</summary>
    public static string ServiceAddress(ActorSystem system) =>
        $"{((ExtendedActorSystem)system).Provider.DefaultAddress}{ServicePath}";

    // The service section is inert data to a poster: it takes effect only where the service lifts it to the top.
    private static Config SharedConfig(Config? remote = null) => remote ?? ConfigurationFactory.ParseString(RemoteHocon);

    private static Config OptionsConfig(QueueRemoteOptions options)
    {
        var hocon = new StringBuilder();
        if (options.Hostname is { } host)
        {
            if (host is "0.0.0.0" or "::" or "[::]" && options.PublicHostname is null)
                throw new ArgumentException(
                    $"binding {host} (every interface) needs a public host name: the address peers use to reach the service",
                    nameof(options));
            hocon.AppendLine($"akka.remote.dot-netty.tcp.hostname = {Quote(host)}");
            hocon.AppendLine($"akka.remote.dot-netty.tcp.public-hostname = {Quote(options.PublicHostname ?? host)}");
        }
        else if (options.PublicHostname is { } publicHost)
        {
            hocon.AppendLine($"akka.remote.dot-netty.tcp.public-hostname = {Quote(publicHost)}");
        }
        if (options.Port is { } port)
        {
            if (port is < 0 or > 65535) throw new ArgumentOutOfRangeException(nameof(options), port, "a TCP port is 0 to 65535");
            hocon.AppendLine($"akka.remote.dot-netty.tcp.port = {port}");
        }
        if (options.AllowedPeers is { } peers)
        {
            Remote.PeerAllowList.Parse(peers); // fail here, with the bad entry named, not at first connection
            hocon.AppendLine($"bluesky-queue.remote.allowed-peers = [{string.Join(", ", peers.Select(Quote))}]");
        }
        return ConfigurationFactory.ParseString(hocon.ToString());
    }

    // HOCON's quoted strings are JSON strings.
    private static string Quote(string value) => JsonSerializer.Serialize(value);
}

/// <summary>A poster's stand-in for the remote queue: forwards each request, keeping the asker as the sender of the reply.</summary>
internal sealed class RemoteQueueForwarder : ReceiveActor
{
    public RemoteQueueForwarder(string queuePath)
    {
        var queue = Context.ActorSelection(queuePath);
        Receive<IQueueRequest>(m => queue.Tell(m, Sender));
    }
}

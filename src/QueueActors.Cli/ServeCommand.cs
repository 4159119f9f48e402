using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using QueueActors.Storage;

namespace QueueActors.Cli;

/// <summary>
/// <c>bsq serve</c>: the queue as a long-lived Akka.Remote service (generic host, Akka.Hosting), in an
/// ActorSystem named <c>bluesky-queue</c>, with the stale-lease reclaim timer on. Listens on
/// <c>127.0.0.1:8110</c> unless told otherwise; stops cleanly on Ctrl-C or SIGTERM.
/// </summary>
internal static class ServeCommand
{
    public static Command Build()
    {
        var host = new Option<string?>("--host") { Description = "Address to bind (default 127.0.0.1; 0.0.0.0 for every interface)" };
        var publicHost = new Option<string?>("--public-host") { Description = "Host name peers use to reach this service (default: --host)" };
        var port = new Option<int?>("--port") { Description = $"TCP port (default {QueueRemoteOptions.DefaultPort}; 0 picks a free one)" };
        var allow = new Option<string[]>("--allow")
        {
            Description = "IP address or CIDR range allowed to connect, or * (repeatable; default: loopback only)",
            AllowMultipleArgumentsPerToken = true,
        };
        var config = new Option<FileInfo?>("--config") { Description = "HOCON file with further settings (TLS, timeouts); options given here win" };
        var command = new Command("serve", "Run the queue service for posters in other processes (Akka.Remote)")
        {
            host, publicHost, port, allow, config,
        };
        command.SetAction((parse, ct) => Program.Guard(() => RunAsync(new ServeSettings
        {
            DbPath = parse.GetValue(Program.Db),
            Host = parse.GetValue(host),
            PublicHost = parse.GetValue(publicHost),
            Port = parse.GetValue(port),
            AllowedPeers = parse.GetValue(allow) is { Length: > 0 } peers ? peers : null,
            ConfigFile = parse.GetValue(config)?.FullName,
        }, Console.Out, ct)));
        return command;
    }

    /// <summary>What <c>bsq serve</c> was asked for; null members keep the HOCON defaults.</summary>
    public sealed record ServeSettings
    {
        public string? DbPath { get; init; }
        public string? Host { get; init; }
        public string? PublicHost { get; init; }
        public int? Port { get; init; }
        public IReadOnlyList<string>? AllowedPeers { get; init; }
        public string? ConfigFile { get; init; }
    }

    /// <summary>Serves until <paramref name="ct"/> is cancelled or the process is told to stop (Ctrl-C, SIGTERM).</summary>
    public static async Task<int> RunAsync(ServeSettings settings, TextWriter output, CancellationToken ct)
    {
        Config? fileConfig = null;
        if (settings.ConfigFile is { } file)
        {
            if (!File.Exists(file)) throw new FileNotFoundException($"{file}: no such file");
            try
            {
                fileConfig = ConfigurationFactory.ParseString(await File.ReadAllTextAsync(file, ct));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw new ArgumentException($"{file}: not valid HOCON: {e.Message}", e);
            }
        }
        if (settings.Port is < 0 or > 65535) throw new ArgumentException($"--port {settings.Port}: a TCP port is 0 to 65535");

        // --db, else the file's bluesky-queue.db-path, else $BLUESKY_QUEUE_DB, else the default path.
        var configured = fileConfig?.GetString("bluesky-queue.db-path", "") is { Length: > 0 } fromFile ? fromFile : null;
        var dbPath = Path.GetFullPath(BlueskyQueue.ResolveDbPath(settings.DbPath ?? configured));

        // Open (and migrate) the database before listening: a bad path is exit code 2 here, not an error to every poster.
        await using (var queue = new BlueskyQueue(new QueueSettings { DbPath = dbPath }))
            await queue.InitDbAsync(ct);

        var effective = fileConfig is null ? QueueRemoteHosting.ServiceConfig() : fileConfig.WithFallback(QueueRemoteHosting.ServiceConfig());
        EnsurePortIsFree(
            settings.Host ?? effective.GetString("akka.remote.dot-netty.tcp.hostname", "127.0.0.1"),
            settings.Port ?? effective.GetInt("akka.remote.dot-netty.tcp.port", QueueRemoteOptions.DefaultPort));

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddAkka(QueueRemoteHosting.ServiceSystemName, akka =>
        {
            if (fileConfig is not null) akka.AddHocon(fileConfig, HoconAddMode.Prepend);
            akka.WithBlueskyQueueRemoting(o =>
                {
                    o.Hostname = settings.Host;
                    o.PublicHostname = settings.PublicHost;
                    o.Port = settings.Port;
                    o.AllowedPeers = settings.AllowedPeers;
                })
                .WithBlueskyQueue(o => o.DbPath = dbPath);
        });
        using var app = builder.Build();
        try
        {
            await app.StartAsync(ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            await Console.Error.WriteLineAsync($"bsq: cannot start the service: {Describe(e)}");
            return Program.BadInput;
        }
        var system = app.Services.GetRequiredService<ActorSystem>();
        if (system.WhenTerminated.IsCompleted)
        {
            await Console.Error.WriteLineAsync("bsq: the service stopped while starting (see the log above)");
            return Program.BadInput;
        }

        var allowed = system.Settings.Config.GetStringList("bluesky-queue.remote.allowed-peers", []);
        await output.WriteLineAsync(
            $"bsq serve: listening on {QueueRemoteHosting.ServiceAddress(system)} (peers: {string.Join(", ", allowed)}), database {dbPath}");
        await output.FlushAsync(ct);

        await app.WaitForShutdownAsync(ct);
        await output.WriteLineAsync("bsq serve: stopped, database closed");
        return Program.Ok;
    }

    /// <summary>
    /// Fails when something already listens on the port. Akka turns on SO_REUSEADDR on Unix, which .NET
    /// maps to SO_REUSEPORT as well: a second <c>bsq serve</c> would bind the same port and silently share
    /// its connections. The probe sets SO_REUSEADDR alone, so a previous run's TIME_WAIT leftovers do not count.
    /// </summary>
    internal static void EnsurePortIsFree(string host, int port)
    {
        if (port == 0 || OperatingSystem.IsWindows()) return; // Windows: Akka binds exclusively and fails itself
        if (!IPAddress.TryParse(host, out var address))
        {
            try
            {
                address = Dns.GetHostAddresses(host).FirstOrDefault();
            }
            catch (SocketException)
            {
                address = null;
            }
            if (address is null) return; // Akka reports the unresolvable host itself
        }
        using var probe = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (OperatingSystem.IsLinux()) probe.SetRawSocketOption(1, 2, BitConverter.GetBytes(1)); // SOL_SOCKET, SO_REUSEADDR
        else if (OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD()) probe.SetRawSocketOption(0xffff, 4, BitConverter.GetBytes(1));
        try
        {
            probe.Bind(new IPEndPoint(address, port));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            throw new ArgumentException($"{host}:{port} is already in use (another bsq serve?); choose another --port");
        }
        catch (SocketException)
        {
            // Not bindable for another reason (no such local address, ...): Akka's own bind reports it.
        }
    }

    private static string Describe(Exception e)
    {
        var messages = new List<string>();
        for (var inner = e; inner is not null; inner = inner.InnerException)
            if (inner is not AggregateException && !messages.Contains(inner.Message)) messages.Add(inner.Message);
        return string.Join(": ", messages.Select(m => m.Replace(" See InnerException for details.", "").TrimEnd('.')));
    }
}

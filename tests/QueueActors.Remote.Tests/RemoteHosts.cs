using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Event;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using QueueActors.Storage;
using QueueActors.Storage.Tests;

namespace QueueActors.Remote.Tests;

/// <summary>Timeouts and data shared by the remote tests.</summary>
public static class Remote
{
    /// <summary>An answered request takes far less; an unanswered one fails the test instead of hanging it.</summary>
    public static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(15);

    /// <summary>How long a test waits to be sure a refused message was really not delivered.</summary>
    public static readonly TimeSpan RefusalWait = TimeSpan.FromSeconds(2);

    public const string Alice = "alice.bsky.social";
    public const string Bob = "bob.bsky.social";

    public static NewJob JobFor(string handle, string text = "hello over the wire") => new() { Text = text, ExpectedHandle = handle };

    /// <summary>Quiet Akka's console output in tests; the log events still reach <see cref="LogCollector"/>.</summary>
    public const string TestHocon = """
        akka.loglevel = DEBUG
        akka.stdout-loglevel = WARNING
        akka.loggers = ["Akka.Event.DefaultLogger"]
        akka.remote.log-remote-lifecycle-events = off
        """;
}

/// <summary>Keeps every log event of an actor system, to assert what the service logged.</summary>
public sealed class LogCollector
{
    private readonly ConcurrentQueue<LogEvent> _events = new();

    public static LogCollector Attach(ActorSystem system)
    {
        var collector = new LogCollector();
        var actor = system.ActorOf(Props.Create(() => new Listener(collector._events)));
        system.EventStream.Subscribe(actor, typeof(LogEvent));
        return collector;
    }

    public IEnumerable<string> Messages(LogLevel atLeast) =>
        _events.Where(e => e.LogLevel() >= atLeast).Select(e => $"[{e.LogLevel()}] {e.LogSource}: {e.Message}{Causes(e.Cause)}");

    private static string Causes(Exception? e)
    {
        var text = "";
        for (; e is not null; e = e.InnerException) text += " <- " + e.Message;
        return text;
    }

    public bool Contains(string text, LogLevel atLeast = LogLevel.WarningLevel) =>
        Messages(atLeast).Any(m => m.Contains(text, StringComparison.Ordinal));

    private sealed class Listener : ReceiveActor
    {
        public Listener(ConcurrentQueue<LogEvent> events) => Receive<LogEvent>(events.Enqueue);
    }
}

/// <summary>An actor that only records what reaches it; stands for "any other actor" of the service.</summary>
public sealed class Recorder : ReceiveActor
{
    public Recorder(ConcurrentQueue<object> received) => ReceiveAny(received.Enqueue);
}

/// <summary>
/// The served queue as <c>bsq serve</c> runs it: a generic host, Akka.Hosting, an ActorSystem named
/// <c>bluesky-queue</c> with remoting on a free loopback port, on a database of its own.
/// </summary>
public sealed class ServedQueue : IAsyncDisposable
{
    private readonly IHost _host;

    private ServedQueue(IHost host, TempDb db)
    {
        _host = host;
        Db = db;
        System = host.Services.GetRequiredService<ActorSystem>();
        Logs = LogCollector.Attach(System);
        Address = QueueRemoteHosting.ServiceAddress(System);
        Port = ((ExtendedActorSystem)System).Provider.DefaultAddress.Port!.Value;
    }

    public ActorSystem System { get; }
    public TempDb Db { get; }
    public LogCollector Logs { get; }

    /// <summary>The queue's full address, with the port the system really bound.</summary>
    public string Address { get; }

    /// <summary>The system address (no path), for paths other than the queue's.</summary>
    public string SystemAddress => Address[..^QueueRemoteHosting.ServicePath.Length];

    public int Port { get; }

    public static async Task<ServedQueue> StartAsync(Action<QueueRemoteOptions>? remote = null, string hocon = "")
    {
        var db = new TempDb();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddAkka(QueueRemoteHosting.ServiceSystemName, akka => akka
            .AddHocon(hocon + "\n" + Remote.TestHocon, HoconAddMode.Prepend)
            .WithBlueskyQueueRemoting(o =>
            {
                o.Port = 0;
                remote?.Invoke(o);
            })
            .WithBlueskyQueue(o =>
            {
                o.DbPath = db.DbPath;
                o.ReclaimInterval = TimeSpan.Zero;
            }));
        var host = builder.Build();
        await host.StartAsync();
        return new ServedQueue(host, db);
    }

    /// <summary>Counts straight from the database file, not through the service.</summary>
    public async Task<QueueStats> StatsFromDbAsync()
    {
        await using var queue = Db.Open();
        return await queue.StatsAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
        Db.Dispose();
    }
}

/// <summary>A poster process: its own host and ActorSystem, with <c>WithBlueskyQueueClient</c>.</summary>
public sealed class PosterHost : IAsyncDisposable
{
    private readonly IHost _host;

    private PosterHost(IHost host)
    {
        _host = host;
        System = host.Services.GetRequiredService<ActorSystem>();
        Queue = host.Services.GetRequiredService<ActorRegistry>().Get<QueueManager>();
        Client = new QueueClient(Queue, Remote.AskTimeout);
    }

    public ActorSystem System { get; }

    /// <summary>What poster code sees under the <see cref="QueueManager"/> key: the forwarder to the service.</summary>
    public IActorRef Queue { get; }

    public QueueClient Client { get; }

    public static async Task<PosterHost> StartAsync(string serviceAddress, string name = "poster", string hocon = "")
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddAkka(name, akka => akka
            .AddHocon(hocon + "\n" + Remote.TestHocon, HoconAddMode.Prepend)
            .WithBlueskyQueueClient(serviceAddress));
        var host = builder.Build();
        await host.StartAsync();
        return new PosterHost(host);
    }

    /// <summary>A reference straight to <paramref name="path"/> of a remote system, as a peer could make one.</summary>
    public IActorRef Resolve(string path) => ((ExtendedActorSystem)System).Provider.ResolveActorRef(path);

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}

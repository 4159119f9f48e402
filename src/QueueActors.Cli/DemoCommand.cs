using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Configuration;
using QueueActors.Storage;

namespace QueueActors.Cli;

/// <summary>
/// <c>bsq demo</c>: the whole product on real input. Imports a sample file into a fresh database,
/// then simulated dry-run posters drain it through the <see cref="QueueManager"/>. The clock is
/// simulated: whenever every poster is idle it jumps to the next due job, so posts scheduled days
/// ahead go out within seconds, in time order, and the daily counters land on the right Beijing days.
/// </summary>
internal static class DemoCommand
{
    public static Command Build()
    {
        var file = new Argument<FileInfo?>("FILE")
        {
            Description = "JSON-lines jobs (default: the samples/posts.jsonl shipped with bsq)",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var postersPerHandle = new Option<int>("--posters-per-handle")
        {
            Description = "Simulated poster actors per account",
            DefaultValueFactory = _ => 2,
        };
        var retryRate = new Option<double>("--retry-rate")
        {
            Description = "Share of first tries that fail transiently and are retried (0 to 1)",
            DefaultValueFactory = _ => 0.05,
        };
        var command = new Command("demo", "Import sample posts into a fresh database and post them with simulated dry-run posters")
        {
            file, postersPerHandle, retryRate,
        };
        command.SetAction((parse, ct) => Program.Guard(() => RunAsync(
            parse.GetValue(file)?.FullName ?? DefaultSampleFile(),
            parse.GetValue(Program.Db),
            Math.Max(1, parse.GetValue(postersPerHandle)),
            Math.Clamp(parse.GetValue(retryRate), 0, 1),
            Console.Out, ct)));
        return command;
    }

    public static string DefaultSampleFile() => Path.Combine(AppContext.BaseDirectory, "samples", "posts.jsonl");

    public static async Task<int> RunAsync(string file, string? dbPath, int postersPerHandle, double retryRate,
        TextWriter output, CancellationToken ct)
    {
        if (Path.GetFileName(file).StartsWith('-'))
            throw new ArgumentException($"demo: '{Path.GetFileName(file)}' is not an option of demo (see bsq demo --help)", nameof(file));
        bool fresh = dbPath is null;
        dbPath ??= Path.Combine(Path.GetTempPath(), $"bsq-demo-{Guid.NewGuid():N}", "queue.sqlite3");

        output.WriteLine($"bsq demo: {file}");
        output.WriteLine($"database: {Path.GetFullPath(dbPath)}{(fresh ? " (temporary: deleted at the end; pass --db FILE to keep one)" : "")}");
        try
        {
            return await RunOnAsync(file, dbPath, postersPerHandle, retryRate, output, ct);
        }
        finally
        {
            if (fresh) TryDelete(Path.GetDirectoryName(dbPath)!);
        }
    }

    private static void TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
            // A temp folder left behind is harmless; the demo's outcome is what matters.
        }
    }

    private static async Task<int> RunOnAsync(string file, string dbPath, int postersPerHandle, double retryRate,
        TextWriter output, CancellationToken ct)
    {
        var clock = new DemoClock(TimeProvider.System.GetUtcNow());
        var settings = new QueueSettings { DbPath = dbPath, TimeProvider = clock };
        bool terminal = !Console.IsOutputRedirected && ReferenceEquals(output, Console.Out);

        Program.ImportOutcome imported;
        await using (var queue = new BlueskyQueue(settings))
        {
            // The demo marks every due job posted: on a queue that already holds jobs, real posts would be lost.
            var before = await queue.StatsAsync(ct: ct);
            if (before.Queued + before.InProgress + before.Posted + before.Failed > 0)
                throw new ArgumentException(
                    $"--db: {queue.DbPath} already holds jobs; the demo needs an empty database (it marks every job it finds posted)", "--db");
            imported = await Program.ImportFileAsync(queue, file, ct);
        }
        output.WriteLine($"imported: {imported.Accepted} accepted ({imported.Created} new), {imported.Rejected.Count} rejected");
        foreach (var r in imported.Rejected)
            output.WriteLine($"  rejected line {r.LineNumber}: {r.Error!.Field ?? "(not JSON)"}: {r.Error.Reason}");

        var options = new QueueOptions
        {
            DbPath = dbPath,
            TimeProvider = clock,
            ReclaimInterval = TimeSpan.FromSeconds(30),
        };
        var config = ConfigurationFactory.ParseString("akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING")
            .WithFallback(ConfigurationFactory.ParseString(QueueHostingExtensions.DefaultHocon));
        using var system = ActorSystem.Create("bsq-demo", config);
        var manager = system.ActorOf(QueueManager.Props(options), QueueManager.ActorName);
        var client = new QueueClient(manager, TimeSpan.FromSeconds(30));

        await using var reader = new BlueskyQueue(settings);
        var queued = await reader.ListAsync(JobStatus.Queued, limit: int.MaxValue, ct: ct);
        var handles = queued.Select(j => j.ExpectedHandle).Distinct().Order(StringComparer.Ordinal).ToList();
        int total = queued.Count;

        var events = Channel.CreateUnbounded<DemoEvent>();
        var posters = new List<IActorRef>();
        foreach (var handle in handles)
            for (int i = 0; i < postersPerHandle; i++)
                posters.Add(system.ActorOf(Props.Create(() =>
                    new DemoPoster(manager, handle, events.Writer, clock, retryRate)), $"poster-{posters.Count}"));
        output.WriteLine($"posters: {posters.Count} simulated posters over {handles.Count} accounts (nothing is published; a retry-rate share of first tries fails and is retried a minute later)");
        output.WriteLine($"clock: simulated, starting at {Beijing(clock.GetUtcNow())} Beijing; it jumps to the next due job whenever every poster is idle");

        var watch = Stopwatch.StartNew();
        int posted = 0, retried = 0, early = 0, jumps = 0;
        var errors = new List<string>();
        while (true)
        {
            foreach (var p in posters) p.Tell(DemoPoster.Wake.Instance);
            int idle = 0;
            while (idle < posters.Count)
            {
                var e = await events.Reader.ReadAsync(ct);
                switch (e)
                {
                    case DemoEvent.Idle:
                        idle++;
                        break;
                    case DemoEvent.Posted p:
                        posted++;
                        if (p.PostedAt < p.Job.NotBefore) early++;
                        if (!terminal)
                            output.WriteLine($"  {Beijing(p.PostedAt)}  {(p.Job.IsReply ? "reply" : "post ")}  @{p.Job.ExpectedHandle}  {Program.Preview(p.Job.Text)}{(p.Job.ImagePath is null ? "" : " [image]")}");
                        break;
                    case DemoEvent.Retried r:
                        retried++;
                        if (!terminal)
                            output.WriteLine($"  {Beijing(r.At)}  retry  @{r.Job.ExpectedHandle}  simulated 503; due again at {Beijing(r.At.AddMinutes(1))}");
                        break;
                    case DemoEvent.Failed f:
                        errors.Add(f.Message);
                        break;
                }
                if (terminal) Progress(output, posted, total, clock.GetUtcNow());
            }
            var next = await client.NextDueAsync(ct: ct);
            if (next is null) break;
            if (next > clock.GetUtcNow())
            {
                jumps++;
                if (terminal) output.WriteLine();
                output.WriteLine($"  all posters idle: clock jumps {Human(next.Value - clock.GetUtcNow())} to {Beijing(next.Value)} Beijing (jump {jumps})");
                clock.Set(next.Value);
            }
        }
        watch.Stop();
        if (terminal) output.WriteLine();
        foreach (var p in posters) system.Stop(p);

        output.WriteLine();
        output.WriteLine($"done: {posted} posted ({Plural(retried, "transient failure")} retried), {Plural(jumps, "clock jump")}, " +
                         $"{(early == 0 ? "none" : early.ToString(CultureInfo.InvariantCulture))} posted before its not_before");
        output.WriteLine($"throughput: {posted / Math.Max(watch.Elapsed.TotalSeconds, 1e-3):0} posts/s ({watch.Elapsed.TotalSeconds:0.00} s wall clock)");
        foreach (var error in errors) output.WriteLine($"  error: {error}");

        output.WriteLine();
        int width = Math.Max(8, handles.Count == 0 ? 0 : handles.Max(h => h.Length));
        output.WriteLine($"{"account".PadRight(width)} {"queued",7} {"in_prog",7} {"posted",7} {"failed",7}");
        foreach (var handle in handles)
        {
            var s = await client.StatsAsync(handle, ct);
            output.WriteLine($"{handle.PadRight(width)} {s.Queued,7} {s.InProgress,7} {s.Posted,7} {s.Failed,7}");
        }
        var all = await client.StatsAsync(ct: ct);
        output.WriteLine($"{"total".PadRight(width)} {all.Queued,7} {all.InProgress,7} {all.Posted,7} {all.Failed,7}");

        output.WriteLine();
        output.WriteLine("daily counts (Beijing calendar days):");
        output.WriteLine($"{"date",-12} {"account".PadRight(width)} {"posts",6} {"replies",8}");
        foreach (var row in await reader.DailyCountsAsync(ct))
            output.WriteLine($"{row.Date,-12} {row.Handle.PadRight(width)} {row.Count.PostCount,6} {row.Count.ReplyCount,8}");

        if (imported.Rejected.Count > 0)
            output.WriteLine($"\n{imported.Rejected.Count} rejected lines (see above); nothing from them was stored.");
        await system.Terminate();

        bool complete = all.Queued == 0 && all.InProgress == 0 && all.Failed == 0 && errors.Count == 0 && early == 0;
        if (!complete) return Program.StorageError;
        return imported.Rejected.Count == 0 ? Program.Ok : Program.BadInput;
    }

    private static void Progress(TextWriter output, int posted, int total, DateTimeOffset now)
    {
        const int width = 30;
        int filled = total == 0 ? width : posted * width / total;
        output.Write($"\r  [{new string('#', filled)}{new string('.', width - filled)}] {posted}/{total}  {Beijing(now)} Beijing ");
    }

    private static string Beijing(DateTimeOffset t) =>
        TimeZoneInfo.ConvertTime(t, QueueSettings.BeijingTime).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    private static string Human(TimeSpan span) =>
        span.TotalDays >= 1 ? Plural(span.TotalDays, "day")
        : span.TotalHours >= 1 ? Plural(span.TotalHours, "hour")
        : span.TotalMinutes >= 1 ? Plural(span.TotalMinutes, "minute")
        : Plural(span.TotalSeconds, "second");

    private static string Plural(double n, string unit)
    {
        var text = n.ToString(n >= 10 || n == Math.Floor(n) ? "0" : "0.#", CultureInfo.InvariantCulture);
        return $"{text} {unit}{(text == "1" ? "" : "s")}";
    }
}

/// <summary>The demo's clock: stands still until the demo moves it forward.</summary>
internal sealed class DemoClock(DateTimeOffset start) : TimeProvider
{
    private long _ticks = start.UtcTicks;

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    public void Set(DateTimeOffset to) => Interlocked.Exchange(ref _ticks, Math.Max(to.UtcTicks, Interlocked.Read(ref _ticks)));
}

/// <summary>What a demo poster tells the demo.</summary>
internal abstract record DemoEvent
{
    public sealed record Idle : DemoEvent;
    public sealed record Posted(Job Job, DateTimeOffset PostedAt) : DemoEvent;
    public sealed record Retried(Job Job, DateTimeOffset At) : DemoEvent;
    public sealed record Failed(string Message) : DemoEvent;
}

/// <summary>
/// A simulated dry-run poster: claims its account's next job, pretends to publish it under the
/// job's record key, reports it posted with its claim token and counts the day; some first tries
/// fail transiently and are retried a minute later. Goes idle when nothing is due.
/// </summary>
internal sealed class DemoPoster : ReceiveActor
{
    private readonly IActorRef _queue;
    private readonly string _handle;
    private readonly ChannelWriter<DemoEvent> _events;
    private readonly TimeProvider _clock;
    private readonly double _retryRate;
    private bool _busy;
    private Job? _current;

    public DemoPoster(IActorRef queue, string handle, ChannelWriter<DemoEvent> events, TimeProvider clock, double retryRate)
    {
        _queue = queue;
        _handle = handle;
        _events = events;
        _clock = clock;
        _retryRate = retryRate;

        Receive<Wake>(_ =>
        {
            if (_busy) return;
            _busy = true;
            _queue.Tell(new ClaimNext(_handle));
        });
        Receive<JobClaimed>(c =>
        {
            if (c.Job is not { } job)
            {
                _busy = false;
                _events.TryWrite(new DemoEvent.Idle());
                return;
            }
            _current = job;
            if (job.Attempts == 0 && Random.Shared.NextDouble() < _retryRate)
            {
                _queue.Tell(new MarkRetry(job.Id, "simulated: 503 from the PDS", _clock.GetUtcNow().AddMinutes(1), job.ClaimToken));
                return;
            }
            // A real poster creates the record under job.RecordKey, so a retry cannot publish twice.
            var uri = $"at://did:plc:demo{_handle.Replace('.', '-')}/app.bsky.feed.post/{job.RecordKey}";
            var url = $"https://bsky.app/profile/{_handle}/post/{job.RecordKey}";
            _queue.Tell(new MarkPosted(job.Id, uri, url, job.ClaimToken));
        });
        Receive<JobUpdated>(u =>
        {
            var job = _current!;
            if (u.Status == JobStatus.Posted)
            {
                _events.TryWrite(new DemoEvent.Posted(job, _clock.GetUtcNow()));
                _queue.Tell(new IncrementDaily(_handle, job.IsReply));
            }
            else
            {
                _events.TryWrite(new DemoEvent.Retried(job, _clock.GetUtcNow()));
                _queue.Tell(new ClaimNext(_handle));
            }
        });
        Receive<DailyCount>(_ => _queue.Tell(new ClaimNext(_handle)));
        Receive<QueueError>(e =>
        {
            _events.TryWrite(new DemoEvent.Failed($"{_handle}: {e.Code}: {e.Message}"));
            _busy = false;
            _events.TryWrite(new DemoEvent.Idle());
        });
    }

    public sealed class Wake
    {
        public static readonly Wake Instance = new();
    }
}

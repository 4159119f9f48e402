using System.Globalization;
using QueueActors.Storage;

namespace QueueActors.Bench;

/// <summary>The command line of the harness. Every size has a default and a smaller <c>--quick</c> default.</summary>
internal sealed class BenchOptions
{
    public static readonly string[] AllWorkloads = ["enqueue", "drain", "processes", "growth-history", "growth-queued"];

    public bool Quick { get; private set; }
    public string? JsonPath { get; private set; }
    public int Runs { get; private set; } = 1;
    public List<string> Workloads { get; } = new();
    public SyncMode Sync { get; private set; } = SyncMode.Full;
    public int Jobs { get; private set; }
    public int EnqueueJobs { get; private set; }
    public int Posters { get; private set; } = 16;
    public int Handles { get; private set; } = 8;
    public int[] ProcessCounts { get; private set; } = [1, 2, 4];
    public int ProcessJobs { get; private set; }
    public string WorkerMode { get; private set; } = "actor";
    public int[] HistorySizes { get; private set; } = [];
    public int[] QueuedSizes { get; private set; } = [];
    public int QueuedForHistory { get; private set; } = 1000;
    public int ClaimsPerPoint { get; private set; }
    public string WorkDir { get; private set; } = "";
    public bool Keep { get; private set; }
    public HashSet<string> DrainVariants { get; } = ["raw", "direct", "actor", "raw1"];

    public const string Usage = """
        QueueActors benchmark harness (issue 7). Every workload runs on fresh database files.

          dotnet run -c Release --project bench/QueueActors.Bench -- [options]

        Options:
          --quick                 small sizes; the whole run takes seconds (a CI smoke test; no timing is asserted)
          --runs R                repeat every workload R times; report the median and min-max (default 1)
          --workload NAME[,NAME]  run only these: enqueue, drain, processes, growth-history, growth-queued, growth (both)
          --sync full|normal|off  PRAGMA synchronous for every queue and raw connection (default full: durable)
          --json FILE             write every figure (each run, and the summaries) to FILE
          --jobs N                jobs per drain (default 20000; quick 1000)
          --enqueue-jobs N        jobs enqueued one by one and imported (default: --jobs; quick 300)
          --posters P             poster actors / threads per drain (default 16)
          --handles H             handles the jobs and posters are spread over (default 8)
          --processes 1,2,4       OS process counts of the multi-process drain (default 1,2,4)
          --process-jobs N        jobs of the multi-process drain (default: --jobs; quick 600)
          --worker-mode actor|direct  what each worker process drains through (default actor)
          --history-sizes LIST    history rows of growth (a) (default 1000,100000,1000000; quick 1000,10000,30000)
          --queued-sizes LIST     queued jobs of growth (b) (default 1000,10000,100000; quick 1000,3000,10000)
          --claims N              claims measured per growth point and series (default 300; quick 40)
          --drains LIST           drain variants to run: raw, direct, actor, raw1 (one raw thread: the uncontended
                                  floor) (default all four; the ratios need raw, direct and actor)
          --dir PATH              folder for the database files (default: a new temp folder)
          --keep                  keep the database files afterwards
        """;

    public static BenchOptions Parse(string[] args)
    {
        var o = new BenchOptions();
        int? jobs = null, enqueueJobs = null, processJobs = null, claims = null;
        int[]? history = null, queued = null;
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{arg} needs a value");
            switch (arg)
            {
                case "--quick": o.Quick = true; break;
                case "--json": o.JsonPath = Next(); break;
                case "--runs": o.Runs = PositiveInt(arg, Next()); break;
                case "--workload":
                case "--workloads":
                    foreach (var name in Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        if (name == "growth") { o.Workloads.Add("growth-history"); o.Workloads.Add("growth-queued"); }
                        else if (AllWorkloads.Contains(name)) o.Workloads.Add(name);
                        else throw new ArgumentException($"unknown workload '{name}' (one of {string.Join(", ", AllWorkloads)}, growth)");
                    }
                    break;
                case "--sync": o.Sync = ParseSync(Next()); break;
                case "--jobs": jobs = PositiveInt(arg, Next()); break;
                case "--enqueue-jobs": enqueueJobs = PositiveInt(arg, Next()); break;
                case "--posters": o.Posters = PositiveInt(arg, Next()); break;
                case "--handles": o.Handles = PositiveInt(arg, Next()); break;
                case "--processes": o.ProcessCounts = IntList(arg, Next()); break;
                case "--process-jobs": processJobs = PositiveInt(arg, Next()); break;
                case "--worker-mode":
                    o.WorkerMode = Next();
                    if (o.WorkerMode is not ("actor" or "direct")) throw new ArgumentException("--worker-mode is actor or direct");
                    break;
                case "--history-sizes": history = IntList(arg, Next()); break;
                case "--queued-sizes": queued = IntList(arg, Next()); break;
                case "--claims": claims = PositiveInt(arg, Next()); break;
                case "--drains":
                    o.DrainVariants.Clear();
                    foreach (var name in Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                        o.DrainVariants.Add(name is "raw" or "direct" or "actor" or "raw1"
                            ? name : throw new ArgumentException($"unknown drain '{name}' (raw, direct, actor, raw1)"));
                    break;
                case "--dir": o.WorkDir = Path.GetFullPath(Next()); break;
                case "--keep": o.Keep = true; break;
                default: throw new ArgumentException($"unknown option '{arg}'");
            }
        }
        if (o.Workloads.Count == 0) o.Workloads.AddRange(AllWorkloads);
        o.Jobs = jobs ?? (o.Quick ? 1000 : 20_000);
        o.EnqueueJobs = enqueueJobs ?? (o.Quick ? 300 : o.Jobs);
        o.ProcessJobs = processJobs ?? (o.Quick ? 600 : o.Jobs);
        o.ClaimsPerPoint = claims ?? (o.Quick ? 40 : 300);
        o.HistorySizes = history ?? (o.Quick ? [1000, 10_000, 30_000] : [1000, 100_000, 1_000_000]);
        o.QueuedSizes = queued ?? (o.Quick ? [1000, 3000, 10_000] : [1000, 10_000, 100_000]);
        o.QueuedForHistory = 1000;
        if (string.IsNullOrEmpty(o.WorkDir))
            o.WorkDir = Path.Combine(Path.GetTempPath(), $"queueactors-bench-{Environment.ProcessId}");
        return o;
    }

    public static SyncMode ParseSync(string value) => value.ToLowerInvariant() switch
    {
        "full" => SyncMode.Full,
        "normal" => SyncMode.Normal,
        "off" => SyncMode.Off,
        _ => throw new ArgumentException($"--sync is full, normal or off, not '{value}'"),
    };

    private static int PositiveInt(string name, string value) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n > 0
            ? n
            : throw new ArgumentException($"{name} needs a positive whole number, not '{value}'");

    private static int[] IntList(string name, string value) =>
        value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(v => PositiveInt(name, v)).ToArray() is { Length: > 0 } list
            ? list
            : throw new ArgumentException($"{name} needs a comma-separated list of positive numbers");
}

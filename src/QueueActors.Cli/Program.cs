using System.CommandLine;
using System.CommandLine.Invocation;
using System.Text.Json.Nodes;
using QueueActors.Storage;

namespace QueueActors.Cli;

/// <summary>The <c>bsq</c> command line: operate the queue, import jobs, run the demo and the service.</summary>
public static class Program
{
    /// <summary>Exit code: success.</summary>
    public const int Ok = 0;
    /// <summary>Exit code: bad input (arguments, job lines, unknown ids, wrong states).</summary>
    public const int BadInput = 1;
    /// <summary>Exit code: the database failed.</summary>
    public const int StorageError = 2;

    internal static readonly Option<string?> Db = new("--db")
    {
        Description = "Database file (default: $BLUESKY_QUEUE_DB, else ~/.bluesky-poster/queue.sqlite3)",
        Recursive = true,
    };

    private static readonly Option<bool> Json = new("--json") { Description = "Print data as JSON" };

    private static readonly Option<string?> Service = new("--service")
    {
        Description = "Go through a running `bsq serve` at this address (e.g. akka.tcp://bluesky-queue@127.0.0.1:8110) instead of opening the database",
    };

    /// <summary>Runs one command; returns the process exit code.</summary>
    public static Task<int> Main(string[] args)
    {
        // Handles may be written "@alice.example.com": no response files, an '@' is just text.
        var parse = Build().Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        // A parse error prints its message and then the command's help; send both to stderr so stdout stays data.
        return parse.Action is ParseErrorAction
            ? parse.InvokeAsync(new InvocationConfiguration { Output = Console.Error })
            : parse.InvokeAsync();
    }

    internal static RootCommand Build()
    {
        var root = new RootCommand("bsq: the durable post queue of bluesky-poster (QueueActors)");
        root.Options.Add(Db);
        root.Subcommands.Add(DemoCommand.Build());
        root.Subcommands.Add(ServeCommand.Build());
        root.Subcommands.Add(Enqueue());
        root.Subcommands.Add(Import());
        root.Subcommands.Add(Stats());
        root.Subcommands.Add(List());
        root.Subcommands.Add(Show());
        root.Subcommands.Add(Claim());
        root.Subcommands.Add(MarkPosted());
        root.Subcommands.Add(MarkFailed());
        root.Subcommands.Add(Reclaim());
        root.Subcommands.Add(Requeue());
        root.Subcommands.Add(Purge());
        return root;
    }

    internal static BlueskyQueue Open(ParseResult parse) => new(new QueueSettings { DbPath = DbPathOf(parse) });

    /// <summary>Opens a queue that must already exist: a command that only reads or changes jobs never creates one.</summary>
    internal static BlueskyQueue OpenExisting(ParseResult parse)
    {
        var path = Path.GetFullPath(BlueskyQueue.ResolveDbPath(DbPathOf(parse)));
        if (!File.Exists(path) && !Directory.Exists(path))
            throw new QueueStorageException(path, "no queue database here (enqueue or import creates one; check --db or $BLUESKY_QUEUE_DB)");
        return new BlueskyQueue(new QueueSettings { DbPath = path });
    }

    private static string? DbPathOf(ParseResult parse)
    {
        var path = parse.GetValue(Db);
        if (path is not null && string.IsNullOrWhiteSpace(path))
            throw new ArgumentException("--db: the path is empty", "--db");
        return path;
    }

    /// <summary>Runs a command body, turning its exceptions into a message on stderr and an exit code.</summary>
    internal static async Task<int> Guard(Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (QueueStorageException e)
        {
            await Console.Error.WriteLineAsync($"bsq: storage error: {e.Message}");
            return StorageError;
        }
        catch (FormatException e)
        {
            await Console.Error.WriteLineAsync($"bsq: storage error: unreadable data in the database: {e.Message}");
            return StorageError;
        }
        catch (QueueException e)
        {
            await Console.Error.WriteLineAsync($"bsq: {e.Message}");
            return e.Code == QueueErrorCodes.Storage ? StorageError : BadInput;
        }
        catch (Akka.Actor.AskTimeoutException e)
        {
            await Console.Error.WriteLineAsync($"bsq: the service did not answer: {e.Message}");
            return StorageError;
        }
        catch (Exception e) when (e is ArgumentException or KeyNotFoundException or InvalidOperationException
                                      or IOException or UnauthorizedAccessException or JobLineException)
        {
            await Console.Error.WriteLineAsync($"bsq: {MessageOf(e)}");
            return BadInput;
        }
    }

    /// <summary>The message without the " (Parameter 'Name')" ArgumentException appends: the message already names the field.</summary>
    private static string MessageOf(Exception e)
    {
        var suffix = e is ArgumentException { ParamName: { } name } ? $" (Parameter '{name}')" : null;
        return suffix is not null && e.Message.EndsWith(suffix, StringComparison.Ordinal) ? e.Message[..^suffix.Length] : e.Message;
    }

    /// <summary>Runs <paramref name="body"/> with a client of the <c>bsq serve</c> at <paramref name="address"/>.</summary>
    private static async Task<int> ThroughService(string address, Func<QueueClient, Task<int>> body)
    {
        var config = Akka.Configuration.ConfigurationFactory.ParseString("akka.loglevel = ERROR\nakka.stdout-loglevel = ERROR")
            .WithFallback(QueueRemoteHosting.ClientConfig);
        using var system = Akka.Actor.ActorSystem.Create("bsq-client", config);
        try
        {
            var path = QueueRemoteHosting.QueuePath(address);
            Akka.Actor.IActorRef queue;
            try
            {
                queue = await system.ActorSelection(path).ResolveOne(TimeSpan.FromSeconds(5));
            }
            catch (Akka.Actor.ActorNotFoundException)
            {
                await Console.Error.WriteLineAsync(
                    $"bsq: no queue service answered at {path} within 5 s (is bsq serve running? use the exact address it prints: localhost and 127.0.0.1 differ)");
                return StorageError;
            }
            // One try: the command line is not the place to repeat a request whose first answer was merely slow.
            return await body(new QueueClient(queue, TimeSpan.FromSeconds(10), retries: 0));
        }
        finally
        {
            await system.Terminate();
        }
    }

    private static Command Enqueue()
    {
        var text = new Option<string>("--text") { Description = "The post text", Required = true };
        var handle = new Option<string>("--handle") { Description = "The account that must post it", Required = true };
        var replyUri = new Option<string?>("--reply-to-uri") { Description = "AT-URI of the post replied to" };
        var replyCid = new Option<string?>("--reply-to-cid") { Description = "CID of the post replied to" };
        var image = new Option<string?>("--image") { Description = "Image file to attach" };
        var alt = new Option<string?>("--alt") { Description = "Alt text of the image" };
        var notBefore = new Option<string?>("--not-before") { Description = "Not before: RFC 3339 with offset, or +10m, +2h, +1d" };
        var dryRun = new Option<bool>("--dry-run") { Description = "The poster must not really publish" };
        var maxAttempts = new Option<int>("--max-attempts") { Description = "Tries before failing", DefaultValueFactory = _ => 3 };
        var key = new Option<string?>("--idempotency-key") { Description = "Enqueueing the same key again returns the first job" };
        var command = new Command("enqueue", "Add one post or reply to the queue")
            { text, handle, replyUri, replyCid, image, alt, notBefore, dryRun, maxAttempts, key, Json, Service };
        command.SetAction((parse, ct) => Guard(async () =>
        {
            var nb = parse.GetValue(notBefore) is { } t ? TimeArgs.ParseInstant(t, "--not-before", DateTimeOffset.UtcNow) : (DateTimeOffset?)null;
            var imagePath = parse.GetValue(image);
            var job = new NewJob
            {
                Text = parse.GetValue(text)!,
                ExpectedHandle = parse.GetValue(handle)!,
                ReplyToUri = parse.GetValue(replyUri),
                ReplyToCid = parse.GetValue(replyCid),
                ImagePath = imagePath is null ? null : Path.GetFullPath(imagePath),
                ImageAlt = parse.GetValue(alt),
                NotBefore = nb,
                DryRun = parse.GetValue(dryRun),
                MaxAttempts = parse.GetValue(maxAttempts),
                IdempotencyKey = parse.GetValue(key),
            };
            if (parse.GetValue(Service) is { } address)
                return await ThroughService(address, async client =>
                {
                    var id = await client.EnqueueAsync(job, ct);
                    Console.WriteLine(parse.GetValue(Json) ? JobJson.Write(new JsonObject { ["id"] = id }) : id);
                    return Ok;
                });
            await using var queue = Open(parse);
            var result = queue.Enqueue(job, ct);
            Console.WriteLine(parse.GetValue(Json)
                ? JobJson.Write(new JsonObject { ["id"] = result.Id })
                : result.Created ? result.Id : $"{result.Id} (already queued under this idempotency key)");
            return Ok;
        }));
        return command;
    }

    private static Command Import()
    {
        var file = new Argument<FileInfo>("FILE") { Description = "JSON lines, one job per line, with the jobs field names" };
        var command = new Command("import", "Validate a JSON-lines file and store every valid line in one transaction") { file, Json };
        command.SetAction((parse, ct) => Guard(async () =>
        {
            await using var queue = Open(parse);
            var outcome = await ImportFileAsync(queue, parse.GetValue(file)!.FullName, ct);
            if (parse.GetValue(Json))
            {
                Console.WriteLine(JobJson.Write(outcome.ToJson()));
            }
            else
            {
                foreach (var r in outcome.Rejected)
                    Console.Error.WriteLine($"line {r.LineNumber}: {r.Error!.Field ?? "(line)"}: {r.Error.Reason}");
                Console.WriteLine($"{outcome.Accepted} accepted ({outcome.Created} new, {outcome.Accepted - outcome.Created} already queued), {outcome.Rejected.Count} rejected");
            }
            return outcome.Rejected.Count == 0 ? Ok : BadInput;
        }));
        return command;
    }

    /// <summary>What an import did: accepted lines (new and already queued) and rejected lines with reasons.</summary>
    internal sealed record ImportOutcome(int Accepted, int Created, IReadOnlyList<JobLineResult> Rejected)
    {
        public JsonObject ToJson() => new()
        {
            ["accepted"] = Accepted,
            ["created"] = Created,
            ["already_queued"] = Accepted - Created,
            ["rejected"] = new JsonArray(Rejected.Select(r => (JsonNode)new JsonObject
            {
                ["line"] = r.LineNumber,
                ["field"] = r.Error!.Field,
                ["reason"] = r.Error.Reason,
            }).ToArray()),
        };
    }

    /// <summary>
    /// Parses and validates every line, then stores the valid ones in one transaction. Each line gets
    /// an idempotency key from its content (unless it names one), so importing a file twice queues nothing twice.
    /// </summary>
    internal static async Task<ImportOutcome> ImportFileAsync(BlueskyQueue queue, string path, CancellationToken ct)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file");
        var lines = JobLines.ParseFile(path, queue.Settings.MaxImageBytes);
        var valid = lines.Where(l => l.IsValid).Select(l => l.Job! with { IdempotencyKey = l.Job!.IdempotencyKey ?? ContentKey(l.Job!) }).ToList();
        var stored = valid.Count == 0 ? [] : await queue.EnqueueManyAsync(valid, ct);
        return new ImportOutcome(stored.Count, stored.Count(r => r.Created), lines.Where(l => !l.IsValid).ToList());
    }

    /// <summary>The key of a line's content: the same post imported again, from any folder, is the same job.</summary>
    private static string ContentKey(NewJob job) => "import:" + BlueskyQueue.ContentHash(job);

    private static Command Stats()
    {
        var handle = new Option<string?>("--handle") { Description = "Only this account" };
        var command = new Command("stats", "Count jobs per status") { handle, Json, Service };
        command.SetAction((parse, ct) => Guard(async () =>
        {
            if (parse.GetValue(Service) is { } address)
                return await ThroughService(address, async client => PrintStats(parse, await client.StatsAsync(parse.GetValue(handle), ct)));
            await using var queue = OpenExisting(parse);
            return PrintStats(parse, await queue.StatsAsync(parse.GetValue(handle), ct));
        }));
        return command;
    }

    private static int PrintStats(ParseResult parse, QueueStats stats)
    {
        Console.WriteLine(parse.GetValue(Json)
            ? JobJson.Write(JobJson.ToJson(stats))
            : $"queued {stats.Queued}, in_progress {stats.InProgress}, posted {stats.Posted}, failed {stats.Failed}");
        return Ok;
    }

    private static Command List()
    {
        var status = new Option<string?>("--status") { Description = "queued, in_progress, posted or failed" };
        status.AcceptOnlyFromAmong("queued", "in_progress", "posted", "failed");
        var handle = new Option<string?>("--handle") { Description = "Only this account" };
        var limit = new Option<int>("--limit") { Description = "At most this many jobs", DefaultValueFactory = _ => 50 };
        var command = new Command("list", "List jobs (claim order; newest first for posted/failed)") { status, handle, limit, Json };
        command.SetAction((parse, ct) => Guard(async () =>
        {
            await using var queue = OpenExisting(parse);
            var st = parse.GetValue(status) is { } s ? JobStatuses.FromDb(s) : (JobStatus?)null;
            var jobs = await queue.ListAsync(st, parse.GetValue(handle), parse.GetValue(limit), ct);
            if (parse.GetValue(Json))
            {
                Console.WriteLine(JobJson.Write(new JsonArray(jobs.Select(j => (JsonNode)JobJson.ToJson(j)).ToArray())));
                return Ok;
            }
            foreach (var j in jobs)
                Console.WriteLine($"{j.Id}  {JobStatuses.ToDb(j.Status),-11}  {JobJson.Time(j.NotBefore)}  @{j.ExpectedHandle}  {Preview(j.Text)}");
            return Ok;
        }));
        return command;
    }

    private static Command Show()
    {
        var id = new Argument<string>("ID") { Description = "The job id" };
        var command = new Command("show", "Show one job") { id, Json, Service };
        command.SetAction((parse, ct) => Guard(async () =>
        {
            var jobId = parse.GetValue(id)!;
            if (parse.GetValue(Service) is { } address)
                return await ThroughService(address, async client =>
                    PrintJob(parse, await client.GetJobAsync(jobId, ct) ?? throw new JobNotFoundException(jobId)));
            await using var queue = OpenExisting(parse);
            return PrintJob(parse, await queue.GetJobAsync(jobId, ct) ?? throw new JobNotFoundException(jobId));
        }));
        return command;
    }

    private static int PrintJob(ParseResult parse, Job job)
    {
        var json = JobJson.ToJson(job);
        if (parse.GetValue(Json)) Console.WriteLine(JobJson.Write(json));
        else foreach (var (k, v) in json) Console.WriteLine($"{k,-16} {v?.ToString() ?? "-"}");
        return Ok;
    }

    private static Command Claim()
    {
        var handle = new Option<string?>("--handle") { Description = "Only this account" };
        var command = new Command("claim", "Claim the next due job (it becomes in_progress)") { handle, Json, Service };
        command.SetAction((parse, ct) => Guard(async () =>
        {
            if (parse.GetValue(Service) is { } address)
                return await ThroughService(address, async client => PrintClaim(parse, await client.ClaimNextAsync(parse.GetValue(handle), ct)));
            await using var queue = OpenExisting(parse);
            return PrintClaim(parse, await queue.ClaimNextAsync(parse.GetValue(handle), ct));
        }));
        return command;
    }

    private static int PrintClaim(ParseResult parse, Job? job)
    {
        if (parse.GetValue(Json)) Console.WriteLine(JobJson.Write(job is null ? null : JobJson.ToJson(job)));
        else Console.WriteLine(job is null ? "nothing is due" : $"{job.Id} claimed (token {job.ClaimToken}, record key {job.RecordKey})");
        return Ok;
    }

    private static readonly Option<string?> ClaimToken = new("--token")
    {
        Description = "The claim token from claim: refused (lease_lost) if the job was reclaimed since",
    };

    private static Command MarkPosted()
    {
        var id = new Argument<string>("ID") { Description = "The claimed job's id" };
        var uri = new Option<string>("--uri") { Description = "AT-URI of the created post", Required = true };
        var url = new Option<string>("--url") { Description = "Web URL of the post", Required = true };
        var command = new Command("mark-posted", "Report a claimed job published") { id, uri, url, ClaimToken, Json, Service };
        command.SetAction((parse, ct) => Guard(async () =>
        {
            var (jobId, u, w, token) = (parse.GetValue(id)!, parse.GetValue(uri)!, parse.GetValue(url)!, parse.GetValue(ClaimToken));
            if (parse.GetValue(Service) is { } address)
                return await ThroughService(address, async client =>
                    PrintUpdate(parse, jobId, (await client.MarkPostedAsync(jobId, u, w, token, ct)).Status));
            await using var queue = OpenExisting(parse);
            await queue.MarkPostedAsync(jobId, u, w, token, ct);
            return PrintUpdate(parse, jobId, JobStatus.Posted);
        }));
        return command;
    }

    private static Command MarkFailed()
    {
        var id = new Argument<string>("ID") { Description = "The claimed job's id" };
        var error = new Option<string>("--error") { Description = "Why it failed for good", Required = true };
        var command = new Command("mark-failed", "Report a claimed job failed for good (no more tries)") { id, error, ClaimToken, Json, Service };
        command.SetAction((parse, ct) => Guard(async () =>
        {
            var (jobId, e, token) = (parse.GetValue(id)!, parse.GetValue(error)!, parse.GetValue(ClaimToken));
            if (parse.GetValue(Service) is { } address)
                return await ThroughService(address, async client =>
                    PrintUpdate(parse, jobId, (await client.MarkFailedAsync(jobId, e, token, ct)).Status));
            await using var queue = OpenExisting(parse);
            await queue.MarkFailedAsync(jobId, e, token, ct);
            return PrintUpdate(parse, jobId, JobStatus.Failed);
        }));
        return command;
    }

    private static int PrintUpdate(ParseResult parse, string jobId, JobStatus status)
    {
        Console.WriteLine(parse.GetValue(Json)
            ? JobJson.Write(new JsonObject { ["id"] = jobId, ["status"] = JobStatuses.ToDb(status) })
            : $"{jobId} {JobStatuses.ToDb(status)}");
        return Ok;
    }

    private static Command Reclaim()
    {
        var timeout = new Option<string>("--timeout") { Description = "Lease age that counts as stale", DefaultValueFactory = _ => "300s" };
        var command = new Command("reclaim", "Put jobs whose lease expired back in the queue (a failed try each)") { timeout, Json };
        command.SetAction((parse, ct) => Guard(async () =>
        {
            var staleAfter = TimeArgs.ParseDuration(parse.GetValue(timeout)!, "--timeout");
            await using var queue = OpenExisting(parse);
            var result = queue.ReclaimStale(staleAfter);
            if (parse.GetValue(Json))
                Console.WriteLine(JobJson.Write(new JsonObject
                {
                    ["requeued"] = new JsonArray(result.Requeued.Select(i => (JsonNode)i).ToArray()),
                    ["failed"] = new JsonArray(result.Failed.Select(i => (JsonNode)i).ToArray()),
                }));
            else Console.WriteLine($"{result.Requeued.Count} requeued, {result.Failed.Count} failed (attempts used up)");
            return Ok;
        }));
        return command;
    }

    private static Command Requeue()
    {
        var id = new Argument<string>("ID") { Description = "The job id" };
        var command = new Command("requeue", "Put a failed or stuck job back in the queue, due now, attempts reset") { id, Json };
        command.SetAction((parse, ct) => Guard(async () =>
        {
            await using var queue = OpenExisting(parse);
            var job = await queue.RequeueAsync(parse.GetValue(id)!, ct);
            Console.WriteLine(parse.GetValue(Json) ? JobJson.Write(JobJson.ToJson(job)) : $"{job.Id} queued");
            return Ok;
        }));
        return command;
    }

    private static Command Purge()
    {
        var olderThan = new Option<string>("--older-than") { Description = "Age such as 30d or 12h", Required = true };
        var command = new Command("purge", "Delete posted and failed jobs that finished longer ago than --older-than") { olderThan, Json };
        command.SetAction((parse, ct) => Guard(async () =>
        {
            var age = TimeArgs.ParseDuration(parse.GetValue(olderThan)!, "--older-than");
            await using var queue = OpenExisting(parse);
            int deleted = await queue.PurgeAsync(queue.Now - age, ct);
            Console.WriteLine(parse.GetValue(Json) ? JobJson.Write(new JsonObject { ["deleted"] = deleted }) : $"{deleted} jobs deleted");
            return Ok;
        }));
        return command;
    }

    internal static string Preview(string text)
    {
        var flat = text.ReplaceLineEndings(" ");
        var graphemes = Graphemes.Split(flat);
        return graphemes.Count <= 60 ? flat : string.Concat(graphemes.Take(59)) + "…";
    }
}

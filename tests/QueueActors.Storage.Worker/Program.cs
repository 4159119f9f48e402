// Helper process for the multi-process tests of QueueActors.Storage.Tests; several copies run at
// once on one database file. Every mode opens the queue, then, with --wait, prints "ready" and
// waits for one line on stdin before it starts, so the test can start all copies together.
//
//   drain <db> [--wait] [--sync full|normal|off]
//       Claims jobs until none is due, marking each posted under its claim token.
//       Prints "claimed <id>" per job, then "done <count>".
//   hold <db> <uri> [--wait]
//       Claims one job and prints "claimed <id> <token>" (or "empty"), then waits for one line on
//       stdin and reports the job posted with <uri> under that token. Prints "posted" when
//       accepted, "lease_lost" when the token no longer holds the job.
//   enqueue <db> <idempotency-key> <count> [--wait]
//       Enqueues the same keyed job <count> times; prints "enqueued <id> <created>" each time.
//
// Exit codes: 0 ok, 1 bad arguments or nothing to claim in hold mode, 2 storage error.
using QueueActors.Storage;

if (args.Length < 2)
{
    Console.Error.WriteLine("usage: drain <db> | hold <db> <uri> | enqueue <db> <key> <count>  [--wait] [--sync full|normal|off]");
    return 1;
}

string mode = args[0];
string db = args[1];
var positional = new List<string>();
var sync = SyncMode.Full;
bool wait = false;
for (int i = 2; i < args.Length; i++)
{
    if (args[i] == "--wait") wait = true;
    else if (args[i] == "--sync" && i + 1 < args.Length) sync = Enum.Parse<SyncMode>(args[++i], ignoreCase: true);
    else positional.Add(args[i]);
}

var settings = new QueueSettings { DbPath = db, Synchronous = sync, BusyTimeout = TimeSpan.FromSeconds(30) };
try
{
    await using var queue = new BlueskyQueue(settings);
    await queue.InitDbAsync();
    if (wait)
    {
        Console.WriteLine("ready");
        Console.In.ReadLine();
    }
    switch (mode)
    {
        case "drain":
        {
            int count = 0;
            while (await queue.ClaimNextAsync() is { } job)
            {
                Console.WriteLine($"claimed {job.Id}");
                await queue.MarkPostedAsync(job.Id, PostUri(job.RecordKey), WebUrl(job.RecordKey), job.ClaimToken);
                count++;
            }
            Console.WriteLine($"done {count}");
            return 0;
        }
        case "hold":
        {
            if (positional.Count < 1)
            {
                Console.Error.WriteLine("usage: hold <db> <uri>");
                return 1;
            }
            var job = await queue.ClaimNextAsync();
            if (job is null)
            {
                Console.WriteLine("empty");
                return 1;
            }
            Console.WriteLine($"claimed {job.Id} {job.ClaimToken}");
            Console.In.ReadLine(); // the test says when to report
            try
            {
                await queue.MarkPostedAsync(job.Id, positional[0], WebUrl(job.RecordKey), job.ClaimToken);
                Console.WriteLine("posted");
            }
            catch (LeaseLostException)
            {
                Console.WriteLine("lease_lost");
            }
            return 0;
        }
        case "enqueue":
        {
            if (positional.Count < 2 || !int.TryParse(positional[1], out int count))
            {
                Console.Error.WriteLine("usage: enqueue <db> <key> <count>");
                return 1;
            }
            for (int i = 0; i < count; i++)
            {
                var result = queue.Enqueue(new NewJob
                {
                    Text = "the same keyed job from every process",
                    ExpectedHandle = "alice.bsky.social",
                    IdempotencyKey = positional[0],
                });
                Console.WriteLine($"enqueued {result.Id} {(result.Created ? "created" : "existing")}");
            }
            return 0;
        }
        default:
            Console.Error.WriteLine($"unknown mode '{mode}'");
            return 1;
    }
}
catch (QueueStorageException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

static string PostUri(string recordKey) => $"at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/{recordKey}";
static string WebUrl(string recordKey) => $"https://bsky.app/profile/did:plc:ewvi7nxzyoun6zhxrhs64oiz/post/{recordKey}";

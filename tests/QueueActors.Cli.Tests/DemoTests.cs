using System.Globalization;
using System.Text.RegularExpressions;
using QueueActors.Storage;
using Xunit;

namespace QueueActors.Cli.Tests;

[Collection(ConsoleCollection.Name)]
public sealed class DemoTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string BeijingDate(DateTimeOffset t) =>
        TimeZoneInfo.ConvertTime(t, QueueSettings.BeijingTime).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    /// <summary>
    /// Asserts the database holds <paramref name="expected"/> jobs, every one posted no earlier than its
    /// not_before, and daily counters that add up to them on the right Beijing days.
    /// </summary>
    private async Task AssertAllPostedAsync(int expected, DateTimeOffset demoStartedBy)
    {
        await using var queue = _dir.Open();
        Assert.Equal(new QueueStats(0, 0, expected, 0), await queue.StatsAsync());

        var jobs = await queue.ListAsync(JobStatus.Posted, limit: int.MaxValue);
        Assert.Equal(expected, jobs.Count);
        Assert.All(jobs, j =>
        {
            Assert.NotNull(j.PostedAt);
            Assert.True(j.PostedAt >= j.NotBefore, $"{j.Id} posted at {j.PostedAt:O}, before its not_before {j.NotBefore:O}");
            Assert.NotNull(j.ResultUri);
        });

        var daily = await queue.DailyCountsAsync();
        Assert.Equal(expected, daily.Sum(r => r.Count.PostCount + r.Count.ReplyCount));
        Assert.Equal(jobs.Count(j => j.IsReply), daily.Sum(r => r.Count.ReplyCount));

        // A job scheduled after the demo began goes out when the simulated clock reaches it: on its own Beijing day.
        var futureDays = jobs.Where(j => j.NotBefore > demoStartedBy).Select(j => BeijingDate(j.NotBefore)).ToHashSet();
        var countedDays = daily.Select(r => r.Date).ToHashSet();
        Assert.Subset(countedDays, futureDays);
        if (futureDays.Count > 1) Assert.True(countedDays.Count > 1);
    }

    [SharedSamplesFact]
    public async Task Demo_on_the_shared_samples_posts_all_269()
    {
        var run = await Bsq.RunAsync("demo", Paths.Shared("posts.jsonl"), "--db", _dir.Db, "--retry-rate", "0");
        var started = DateTimeOffset.UtcNow;
        Assert.True(run.ExitCode == Program.Ok, run.ToString());
        Assert.Contains("imported: 269 accepted (269 new), 0 rejected", run.Out);
        Assert.Contains("done: 269 posted", run.Out);
        Assert.Contains("none posted before its not_before", run.Out);
        Assert.Contains("daily counts (Beijing calendar days)", run.Out);
        Assert.Empty(run.Err);
        await AssertAllPostedAsync(269, started);

        await using var queue = _dir.Open();
        var days = (await queue.DailyCountsAsync()).Select(r => r.Date).Distinct().Count();
        Assert.True(days > 1 || DateTimeOffset.UtcNow > new DateTimeOffset(2027, 2, 26, 0, 0, 0, TimeSpan.Zero),
            $"the daily counts landed on {days} day(s)");
    }

    [SharedSamplesFact]
    public async Task Demo_on_the_shared_samples_with_transient_failures_still_posts_all()
    {
        var output = new StringWriter();
        int code = await DemoCommand.RunAsync(Paths.Shared("posts.jsonl"), _dir.Db, postersPerHandle: 3, retryRate: 0.3,
            output, CancellationToken.None);
        Assert.True(code == Program.Ok, output.ToString());
        Assert.Matches(new Regex(@"done: 269 posted \((\d+) transient failures retried\)"), output.ToString());
        Assert.DoesNotMatch(new Regex(@"done: 269 posted \(0 transient"), output.ToString());
        await using var queue = _dir.Open();
        Assert.Equal(new QueueStats(0, 0, 269, 0), await queue.StatsAsync());
        Assert.Equal(269, (await queue.DailyCountsAsync()).Sum(r => r.Count.PostCount + r.Count.ReplyCount));
    }

    [SharedSamplesFact]
    public async Task Demo_on_the_shared_invalid_samples_reports_all_61_and_posts_nothing()
    {
        var run = await Bsq.RunExpectingAsync(Program.BadInput, "demo", Paths.Shared("posts-invalid.jsonl"), "--db", _dir.Db);
        Assert.Contains("imported: 0 accepted (0 new), 61 rejected", run.Out);
        for (int line = 1; line <= 61; line++)
            Assert.Contains($"rejected line {line}: ", run.Out);
        Assert.Contains("done: 0 posted", run.Out);
        Assert.Contains("61 rejected lines", run.Out);
        await using var queue = _dir.Open();
        Assert.Equal(new QueueStats(0, 0, 0, 0), await queue.StatsAsync());
        Assert.Empty(await queue.DailyCountsAsync());
    }

    [Fact]
    public async Task Demo_without_a_file_posts_every_shipped_sample()
    {
        var shipped = DemoCommand.DefaultSampleFile();
        Assert.True(File.Exists(shipped), $"{shipped} was not copied next to bsq");
        Assert.Equal(await File.ReadAllBytesAsync(Paths.OwnSamples), await File.ReadAllBytesAsync(shipped));
        int lines = File.ReadLines(shipped).Count(l => !string.IsNullOrWhiteSpace(l));

        var run = await Bsq.RunAsync("demo", "--db", _dir.Db, "--retry-rate", "0");
        var started = DateTimeOffset.UtcNow;
        Assert.True(run.ExitCode == Program.Ok, run.ToString());
        Assert.Contains($"bsq demo: {shipped}", run.Out);
        Assert.Contains($"imported: {lines} accepted ({lines} new), 0 rejected", run.Out);
        Assert.Contains($"done: {lines} posted", run.Out);
        Assert.Empty(run.Err);
        await AssertAllPostedAsync(lines, started);
    }

    [Fact]
    public async Task Demo_without_db_uses_a_fresh_temporary_database_never_the_users_queue()
    {
        var userQueue = _dir.PathOf("users-real-queue.sqlite3");
        var previous = Environment.GetEnvironmentVariable(BlueskyQueue.DbPathVariable);
        Environment.SetEnvironmentVariable(BlueskyQueue.DbPathVariable, userQueue);
        CliRun run;
        try
        {
            run = await Bsq.RunAsync("demo", Paths.OwnSamples);
        }
        finally
        {
            Environment.SetEnvironmentVariable(BlueskyQueue.DbPathVariable, previous);
        }

        Assert.True(run.ExitCode == Program.Ok, run.ToString());
        Assert.False(File.Exists(userQueue));
        var match = Regex.Match(run.Out, @"^database: (?<path>.+) \(temporary: deleted at the end", RegexOptions.Multiline);
        Assert.True(match.Success, run.Out);
        var tempDb = match.Groups["path"].Value;
        Assert.StartsWith(Path.GetFullPath(Path.GetTempPath()), tempDb);
        Assert.False(Directory.Exists(Path.GetDirectoryName(tempDb)), "the demo's temporary database is left behind");
    }

    [Fact]
    public async Task Demo_refuses_a_database_that_already_holds_jobs_and_changes_none_of_them()
    {
        await Bsq.OkAsync("enqueue", "--text", "a real post, not a demo", "--handle", "me.example.com", "--not-before", "+3d", "--db", _dir.Db);
        var run = await Bsq.RunExpectingAsync(Program.BadInput, "demo", Paths.OwnSamples, "--db", _dir.Db);
        Assert.Contains("already holds jobs", run.Err);
        Assert.Equal(new QueueStats(1, 0, 0, 0), await _dir.StatsAsync());
    }

    [Fact]
    public async Task Demo_with_an_option_it_does_not_have_says_so_instead_of_looking_for_a_file()
    {
        var run = await Bsq.RunExpectingAsync(Program.BadInput, "demo", "--json", "--db", _dir.Db);
        Assert.Contains("'--json' is not an option of demo", run.Err);
        Assert.False(File.Exists(_dir.Db));
    }

    [Fact]
    public async Task Demo_of_a_missing_file_is_bad_input()
    {
        var run = await Bsq.RunExpectingAsync(Program.BadInput, "demo", _dir.PathOf("nope.jsonl"), "--db", _dir.Db);
        Assert.Contains("nope.jsonl", run.Err);
    }
}

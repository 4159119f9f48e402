using System.Globalization;
using System.Text.Json.Nodes;
using QueueActors.Storage;
using Xunit;

namespace QueueActors.Cli.Tests;

[Collection(ConsoleCollection.Name)]
public sealed class EnqueueShowStatsTests : IDisposable
{
    private static readonly string[] StatsKeys = ["queued", "in_progress", "posted", "failed"];

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private Task<CliRun> EnqueueAsync(params string[] more) =>
        Bsq.OkAsync(["enqueue", "--text", "hello from the tests", "--handle", "alice.example.com", "--db", _dir.Db, "--json", .. more]);

    private async Task<string> EnqueueIdAsync(params string[] more) => (string)(await EnqueueAsync(more)).JsonObject["id"]!;

    [Fact]
    public async Task Enqueue_json_prints_only_the_id_as_a_uuid()
    {
        var run = await EnqueueAsync();
        var json = run.JsonObject;
        Assert.Equal(new[] { "id" }, json.Select(p => p.Key));
        Assert.True(Guid.TryParse((string?)json["id"], out _), run.Out);
        Assert.Equal(new QueueStats(1, 0, 0, 0), await _dir.StatsAsync());
    }

    [Fact]
    public async Task Enqueue_takes_a_handle_written_with_a_leading_at_sign_not_as_a_response_file()
    {
        var run = await Bsq.OkAsync("enqueue", "--text", "hi", "--handle", "@Alice.Example.com", "--db", _dir.Db, "--json");
        var id = (string)run.JsonObject["id"]!;
        var show = await Bsq.OkAsync("show", id, "--db", _dir.Db, "--json");
        Assert.Equal("alice.example.com", (string?)show.JsonObject["expected_handle"]);
    }

    [Fact]
    public async Task A_not_before_without_the_plus_sign_points_at_both_accepted_forms()
    {
        var run = await Bsq.RunExpectingAsync(Program.BadInput, "enqueue", "--text", "x", "--handle", "alice.example.com",
            "--not-before", "10m", "--db", _dir.Db);
        Assert.Contains("+10m", run.Err);
        Assert.Contains("RFC 3339", run.Err);
    }

    [Fact]
    public async Task Enqueue_without_json_prints_the_id_alone()
    {
        var run = await Bsq.OkAsync("enqueue", "--text", "plain", "--handle", "alice.example.com", "--db", _dir.Db);
        Assert.True(Guid.TryParse(run.Out.Trim(), out _), run.Out);
    }

    [Fact]
    public async Task Show_json_prints_every_column_of_the_stored_job()
    {
        var image = Path.Combine(Paths.RepoRoot, "samples", "images", "bread.jpg");
        var id = await EnqueueIdAsync("--image", image, "--alt", "a loaf of bread", "--dry-run", "--max-attempts", "5",
            "--reply-to-uri", "at://did:plc:ptenb53qybtyitgeylzid7it/app.bsky.feed.post/3mupdbnq3hd25",
            "--reply-to-cid", "bafyreidtvgjez6tvkucznfwb6nfrtaeybyw7iojyjampd2yf26j7z2e7ui");
        var run = await Bsq.OkAsync("show", id, "--db", _dir.Db, "--json");
        JobKeys.AssertJob(run.Json);
        var job = run.JsonObject;
        Assert.Equal(id, (string?)job["id"]);
        Assert.Equal("hello from the tests", (string?)job["text"]);
        Assert.Equal("alice.example.com", (string?)job["expected_handle"]);
        Assert.Equal("queued", (string?)job["status"]);
        Assert.Equal(image, (string?)job["image_path"]);
        Assert.Equal("a loaf of bread", (string?)job["image_alt"]);
        Assert.Equal("at://did:plc:ptenb53qybtyitgeylzid7it/app.bsky.feed.post/3mupdbnq3hd25", (string?)job["reply_to_uri"]);
        Assert.Equal("bafyreidtvgjez6tvkucznfwb6nfrtaeybyw7iojyjampd2yf26j7z2e7ui", (string?)job["reply_to_cid"]);
        Assert.True((bool)job["dry_run"]!);
        Assert.Equal(0, (int)job["attempts"]!);
        Assert.Equal(5, (int)job["max_attempts"]!);
        Assert.Null(job["last_error"]);
        Assert.Null(job["result_uri"]);
        Assert.Null(job["result_url"]);
        Assert.Null(job["posted_at"]);
    }

    [Fact]
    public async Task Show_without_json_prints_one_field_per_line()
    {
        var id = await EnqueueIdAsync();
        var run = await Bsq.OkAsync("show", id, "--db", _dir.Db);
        Assert.Contains(id, run.Out);
        Assert.Contains("hello from the tests", run.Out);
        Assert.Contains("queued", run.Out);
    }

    [Fact]
    public async Task Show_of_an_unknown_id_is_bad_input_on_stderr()
    {
        await EnqueueIdAsync();
        var run = await Bsq.RunExpectingAsync(Program.BadInput, "show", Guid.NewGuid().ToString(), "--db", _dir.Db, "--json");
        Assert.Empty(run.Out);
        Assert.Contains("No job", run.Err);
    }

    [Fact]
    public async Task Enqueue_keeps_non_ascii_text_byte_for_byte()
    {
        const string text = "新年快乐！🎉 नमस्ते 👩🏽‍💻 🇯🇵 مرحبا";
        var run = await Bsq.OkAsync("enqueue", "--text", text, "--handle", "mei.example.com", "--db", _dir.Db, "--json");
        var id = (string)run.JsonObject["id"]!;
        var shown = await Bsq.OkAsync("show", id, "--db", _dir.Db, "--json");
        Assert.Equal(text, (string?)shown.JsonObject["text"]);
        Assert.Contains("新年快乐", shown.Out); // printed readable, not \u-escaped
    }

    [Theory]
    [InlineData("alice")]
    [InlineData("alice@example.com")]
    [InlineData("bob.example")]
    public async Task Enqueue_with_an_invalid_handle_is_bad_input_and_stores_nothing(string handle)
    {
        var run = await Bsq.RunExpectingAsync(Program.BadInput,
            "enqueue", "--text", "hi", "--handle", handle, "--db", _dir.Db, "--json");
        Assert.Empty(run.Out);
        Assert.Contains("expected_handle", run.Err);
        Assert.Equal(new QueueStats(0, 0, 0, 0), await _dir.StatsAsync());
    }

    [Fact]
    public async Task Enqueue_errors_name_the_json_field_not_the_csharp_property()
    {
        var run = await Bsq.RunExpectingAsync(Program.BadInput,
            "enqueue", "--text", "hi", "--handle", "alice", "--db", _dir.Db);
        Assert.StartsWith("bsq: ", run.Err);
        Assert.DoesNotContain("(Parameter", run.Err);
    }

    [Fact]
    public async Task Enqueue_with_a_missing_image_or_a_text_too_long_is_bad_input()
    {
        var missing = await Bsq.RunExpectingAsync(Program.BadInput, "enqueue", "--text", "pic", "--handle", "alice.example.com",
            "--image", _dir.PathOf("nope.jpg"), "--db", _dir.Db);
        Assert.Contains("image_path", missing.Err);
        Assert.Empty(missing.Out);

        var tooLong = await Bsq.RunExpectingAsync(Program.BadInput, "enqueue", "--text", new string('a', 301),
            "--handle", "alice.example.com", "--db", _dir.Db);
        Assert.Contains("301 graphemes", tooLong.Err);
        Assert.Equal(new QueueStats(0, 0, 0, 0), await _dir.StatsAsync());
    }

    [Fact]
    public async Task Enqueue_without_the_required_options_is_bad_input_on_stderr()
    {
        var run = await Bsq.RunExpectingAsync(Program.BadInput, "enqueue", "--db", _dir.Db, "--json");
        Assert.Contains("--text", run.Err);
        Assert.Empty(run.Out);
    }

    [Fact]
    public async Task An_unknown_command_or_option_is_bad_input_on_stderr()
    {
        var command = await Bsq.RunExpectingAsync(Program.BadInput, "frobnicate", "--db", _dir.Db);
        Assert.NotEmpty(command.Err);
        Assert.Empty(command.Out);

        var option = await Bsq.RunExpectingAsync(Program.BadInput, "stats", "--jsn", "--db", _dir.Db);
        Assert.Contains("--jsn", option.Err);
        Assert.Empty(option.Out);
    }

    [Fact]
    public async Task Enqueue_with_the_same_idempotency_key_returns_the_first_job()
    {
        var first = await EnqueueIdAsync("--idempotency-key", "post-42");
        var second = await EnqueueIdAsync("--idempotency-key", "post-42");
        Assert.Equal(first, second);
        var plain = await Bsq.OkAsync("enqueue", "--text", "hello from the tests", "--handle", "alice.example.com",
            "--idempotency-key", "post-42", "--db", _dir.Db);
        Assert.Contains(first, plain.Out);
        Assert.Contains("already queued", plain.Out);
        Assert.Equal(1, (await _dir.StatsAsync()).Queued);
    }

    [Fact]
    public async Task Enqueue_of_a_different_post_under_a_used_idempotency_key_is_bad_input_and_stores_nothing()
    {
        var first = await EnqueueIdAsync("--idempotency-key", "post-42");
        var run = await Bsq.RunExpectingAsync(Program.BadInput, "enqueue", "--text", "another post", "--handle", "alice.example.com",
            "--idempotency-key", "post-42", "--db", _dir.Db);
        Assert.Contains("already names a different job", run.Err);
        Assert.Contains(first, run.Err);
        Assert.Equal(1, (await _dir.StatsAsync()).Queued);
    }

    [Theory]
    [InlineData("+10m", 10 * 60)]
    [InlineData("+2h", 2 * 3600)]
    [InlineData("+1d", 86400)]
    [InlineData("+90s", 90)]
    public async Task Not_before_accepts_relative_times(string arg, int seconds)
    {
        var before = DateTimeOffset.UtcNow;
        var id = await EnqueueIdAsync("--not-before", arg);
        var after = DateTimeOffset.UtcNow;
        var notBefore = await NotBeforeAsync(id);
        Assert.InRange(notBefore, before.AddSeconds(seconds).AddSeconds(-1), after.AddSeconds(seconds).AddSeconds(1));
    }

    [Theory]
    [InlineData("2030-01-02T03:04:05+08:00", "2030-01-01T19:04:05Z")]
    [InlineData("2030-01-02T03:04:05Z", "2030-01-02T03:04:05Z")]
    [InlineData("2030-01-02T03:04:05.250-05:00", "2030-01-02T08:04:05.25Z")]
    public async Task Not_before_accepts_rfc3339_with_an_offset(string arg, string utc)
    {
        var id = await EnqueueIdAsync("--not-before", arg);
        Assert.Equal(DateTimeOffset.Parse(utc, CultureInfo.InvariantCulture), await NotBeforeAsync(id));
    }

    [Theory]
    [InlineData("2030-01-02T03:04:05")]
    [InlineData("2030-01-02 03:04:05")]
    [InlineData("2030-01-02")]
    [InlineData("tomorrow")]
    [InlineData("+10x")]
    [InlineData("+")]
    public async Task Not_before_without_an_offset_or_unparseable_is_bad_input(string arg)
    {
        var run = await Bsq.RunExpectingAsync(Program.BadInput,
            "enqueue", "--text", "hi", "--handle", "alice.example.com", "--not-before", arg, "--db", _dir.Db, "--json");
        Assert.Empty(run.Out);
        Assert.Contains("--not-before", run.Err);
        Assert.Equal(new QueueStats(0, 0, 0, 0), await _dir.StatsAsync());
    }

    [Fact]
    public async Task A_job_scheduled_later_is_not_claimed_now()
    {
        await EnqueueIdAsync("--not-before", "+2h");
        var claim = await Bsq.OkAsync("claim", "--db", _dir.Db, "--json");
        Assert.Equal("null", claim.Out.Trim());
    }

    [Fact]
    public async Task Stats_json_has_exactly_the_four_counts()
    {
        await _dir.CreateEmptyAsync();
        var empty = await Bsq.OkAsync("stats", "--db", _dir.Db, "--json");
        Assert.Equal(StatsKeys, empty.JsonObject.Select(p => p.Key));
        Assert.All(empty.JsonObject, p => Assert.Equal(0, (int)p.Value!));

        await EnqueueIdAsync();
        await EnqueueIdAsync();
        await EnqueueIdAsync("--not-before", "+1h");
        await Bsq.OkAsync("enqueue", "--text", "from bob", "--handle", "bob.example.org", "--db", _dir.Db);
        await Bsq.OkAsync("claim", "--db", _dir.Db, "--json");

        var stats = (await Bsq.OkAsync("stats", "--db", _dir.Db, "--json")).JsonObject;
        Assert.Equal(StatsKeys, stats.Select(p => p.Key));
        Assert.Equal(3, (int)stats["queued"]!);
        Assert.Equal(1, (int)stats["in_progress"]!);
        Assert.Equal(0, (int)stats["posted"]!);
        Assert.Equal(0, (int)stats["failed"]!);

        var bob = (await Bsq.OkAsync("stats", "--handle", "bob.example.org", "--db", _dir.Db, "--json")).JsonObject;
        Assert.Equal(1, (int)bob["queued"]! + (int)bob["in_progress"]!);

        var plain = await Bsq.OkAsync("stats", "--db", _dir.Db);
        Assert.Equal("queued 3, in_progress 1, posted 0, failed 0", plain.Out.Trim());
    }

    [Fact]
    public async Task Read_commands_refuse_a_missing_database_and_create_nothing_while_enqueue_creates_it()
    {
        var nested = Path.Combine(_dir.Folder, "a", "b", "queue.sqlite3");
        foreach (var command in new[] { "stats", "list", "claim" })
        {
            var run = await Bsq.RunAsync(command, "--db", nested, "--json");
            Assert.Equal(Program.StorageError, run.ExitCode);
            Assert.Contains("no queue database here", run.Err);
        }
        Assert.False(Directory.Exists(Path.Combine(_dir.Folder, "a")));

        await Bsq.OkAsync("enqueue", "--text", "first", "--handle", "alice.example.com", "--db", nested);
        Assert.True(File.Exists(nested));
    }

    private async Task<DateTimeOffset> NotBeforeAsync(string id)
    {
        var shown = await Bsq.OkAsync("show", id, "--db", _dir.Db, "--json");
        return DateTimeOffset.Parse((string)shown.JsonObject["not_before"]!, CultureInfo.InvariantCulture);
    }
}

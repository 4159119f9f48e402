using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using QueueActors.Storage;
using Xunit;

namespace QueueActors.Cli.Tests;

[Collection(ConsoleCollection.Name)]
public sealed class ImportTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static int CountLines(string path) => File.ReadLines(path).Count(l => !string.IsNullOrWhiteSpace(l));

    private static JsonArray Rejected(CliRun run) => Assert.IsType<JsonArray>(run.JsonObject["rejected"]);

    [SharedSamplesFact]
    public async Task Import_of_the_shared_valid_samples_accepts_all_269()
    {
        var run = await Bsq.OkAsync("import", Paths.Shared("posts.jsonl"), "--db", _dir.Db, "--json");
        Assert.Equal(269, (int)run.JsonObject["accepted"]!);
        Assert.Empty(Rejected(run));
        Assert.Equal(new QueueStats(269, 0, 0, 0), await _dir.StatsAsync());
    }

    [SharedSamplesFact]
    public async Task Importing_the_same_file_twice_does_not_double_the_queue()
    {
        var first = await Bsq.OkAsync("import", Paths.Shared("posts.jsonl"), "--db", _dir.Db, "--json");
        Assert.Equal(269, (int)first.JsonObject["created"]!);
        var stats = await _dir.StatsAsync();

        var second = await Bsq.OkAsync("import", Paths.Shared("posts.jsonl"), "--db", _dir.Db, "--json");
        Assert.Equal(269, (int)second.JsonObject["accepted"]!);
        Assert.Equal(0, (int)second.JsonObject["created"]!);
        Assert.Equal(269, (int)second.JsonObject["already_queued"]!);
        Assert.Empty(Rejected(second));
        Assert.Equal(stats, await _dir.StatsAsync());
        Assert.Equal(269, _dir.CountRows());

        var plain = await Bsq.OkAsync("import", Paths.Shared("posts.jsonl"), "--db", _dir.Db);
        Assert.Equal("269 accepted (0 new, 269 already queued), 0 rejected", plain.Out.Trim());
        Assert.Equal(269, _dir.CountRows());
    }

    [SharedSamplesFact]
    public async Task Import_of_the_shared_invalid_samples_rejects_every_line_with_its_field_and_stores_nothing()
    {
        var expected = File.ReadLines(Paths.Shared("posts-invalid.expected.tsv")).Skip(1)
            .Where(l => l.Length > 0)
            .Select(l => l.Split('\t'))
            .ToDictionary(c => int.Parse(c[0], System.Globalization.CultureInfo.InvariantCulture), c => (Code: c[1], Why: c[2]));
        Assert.Equal(61, expected.Count);

        var run = await Bsq.RunExpectingAsync(Program.BadInput, "import", Paths.Shared("posts-invalid.jsonl"), "--db", _dir.Db, "--json");
        Assert.Equal(0, (int)run.JsonObject["accepted"]!);
        var rejected = Rejected(run);
        Assert.Equal(expected.Keys.Order(), rejected.Select(r => (int)r!["line"]!));

        foreach (var r in rejected)
        {
            var entry = Assert.IsType<JsonObject>(r);
            Assert.Equal(new[] { "line", "field", "reason" }, entry.Select(p => p.Key).Take(3));
            int line = (int)entry["line"]!;
            var field = (string?)entry["field"];
            var reason = (string?)entry["reason"];
            var (code, why) = expected[line];
            Assert.False(string.IsNullOrWhiteSpace(reason), $"line {line}: no reason");
            var allowed = ExpectedFields(code, why);
            Assert.True(allowed.Contains(field),
                $"line {line} ({code}: {why}): field '{field ?? "null"}' is not one of [{string.Join(", ", allowed.Select(a => a ?? "null"))}]; reason: {reason}");
        }

        Assert.Equal(new QueueStats(0, 0, 0, 0), await _dir.StatsAsync());
        Assert.Equal(0, _dir.CountRows());
    }

    /// <summary>The field a line of posts-invalid.expected.tsv implies, by its code (null: the line is not a JSON object).</summary>
    private static string?[] ExpectedFields(string code, string why) => code switch
    {
        "JSON_INVALID" => [null],
        "UNKNOWN_FIELD" => [Regex.Match(why, "'([^']+)'").Groups[1].Value],
        "FIELD_TYPE" => [why.Split(' ')[0]],
        "TEXT_INVALID_UNICODE" => ["text", null],
        _ when code.StartsWith("TEXT_", StringComparison.Ordinal) || code == "POST_EMPTY" => ["text"],
        _ when code.StartsWith("HANDLE_", StringComparison.Ordinal) => ["expected_handle"],
        "REPLY_INCOMPLETE" => ["reply_to_uri", "reply_to_cid"],
        _ when code.StartsWith("REPLY_URI_", StringComparison.Ordinal) => ["reply_to_uri"],
        "REPLY_CID_INVALID" => ["reply_to_cid"],
        "ALT_WITHOUT_IMAGE" => ["image_alt", "image_path"],
        _ when code.StartsWith("IMAGE_", StringComparison.Ordinal) => ["image_path"],
        "NOT_BEFORE_INVALID" => ["not_before"],
        "DRY_RUN_INVALID" => ["dry_run"],
        _ => throw new InvalidOperationException($"posts-invalid.expected.tsv has a code this test does not know: {code}"),
    };

    [SharedSamplesFact]
    public async Task Import_without_json_reports_each_rejected_line_on_stderr_and_a_summary()
    {
        var run = await Bsq.RunExpectingAsync(Program.BadInput, "import", Paths.Shared("posts-invalid.jsonl"), "--db", _dir.Db);
        Assert.Equal("0 accepted (0 new, 0 already queued), 61 rejected", run.Out.Trim());
        var lines = run.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(61, lines.Length);
        for (int i = 0; i < 61; i++) Assert.StartsWith($"line {i + 1}: ", lines[i]);
        Assert.Contains(lines, l => l.StartsWith("line 23: expected_handle: ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Import_stores_the_good_lines_of_a_mixed_file_and_reports_the_bad_ones()
    {
        File.Copy(Path.Combine(Paths.RepoRoot, "samples", "images", "ramen.jpg"), _dir.PathOf("ramen.jpg"));
        var file = _dir.PathOf("mixed.jsonl");
        await File.WriteAllLinesAsync(file,
        [
            """{"text": "一碗拉面 🍜", "expected_handle": "mei.example.com", "image_path": "ramen.jpg", "image_alt": "a bowl of ramen"}""",
            """{"text": "broken", "expected_handle": "mei.example.com" """,
            "",
            """{"text": "scheduled", "expected_handle": "tom.example.com", "not_before": "2030-05-01T09:00:00-05:00", "dry_run": true}""",
            """{"text": "bad handle", "expected_handle": "tom"}""",
        ]);

        var run = await Bsq.RunExpectingAsync(Program.BadInput, "import", file, "--db", _dir.Db, "--json");
        Assert.Equal(2, (int)run.JsonObject["accepted"]!);
        var rejected = Rejected(run);
        Assert.Equal(2, rejected.Count);
        Assert.Equal(2, (int)rejected[0]!["line"]!);
        Assert.Null(rejected[0]!["field"]);
        Assert.Equal(5, (int)rejected[1]!["line"]!);
        Assert.Equal("expected_handle", (string?)rejected[1]!["field"]);
        Assert.Equal(new QueueStats(2, 0, 0, 0), await _dir.StatsAsync());

        await using var queue = _dir.Open();
        var jobs = await queue.ListAsync();
        var ramen = Assert.Single(jobs, j => j.ExpectedHandle == "mei.example.com");
        Assert.Equal(_dir.PathOf("ramen.jpg"), ramen.ImagePath); // relative to the file's folder
        var scheduled = Assert.Single(jobs, j => j.ExpectedHandle == "tom.example.com");
        Assert.Equal(new DateTimeOffset(2030, 5, 1, 14, 0, 0, TimeSpan.Zero), scheduled.NotBefore);
        Assert.True(scheduled.DryRun);
    }

    [Fact]
    public async Task Importing_the_same_posts_from_another_folder_queues_nothing_twice_images_included()
    {
        var copy = _dir.PathOf("moved");
        CopyFolder(Path.GetDirectoryName(Paths.OwnSamples)!, copy);
        var first = await Bsq.OkAsync("import", Paths.OwnSamples, "--db", _dir.Db, "--json");
        var moved = await Bsq.OkAsync("import", Path.Combine(copy, "posts.jsonl"), "--db", _dir.Db, "--json");

        Assert.Equal((int)first.JsonObject["accepted"]!, (int)first.JsonObject["created"]!);
        Assert.Equal(0, (int)moved.JsonObject["created"]!);
        Assert.Equal((long)(int)first.JsonObject["accepted"]!, _dir.CountRows());
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    [Fact]
    public async Task Import_of_a_missing_file_is_bad_input()
    {
        var run = await Bsq.RunExpectingAsync(Program.BadInput, "import", _dir.PathOf("nope.jsonl"), "--db", _dir.Db, "--json");
        Assert.Empty(run.Out);
        Assert.Contains("nope.jsonl", run.Err);
    }

    [Fact]
    public async Task Import_of_the_products_own_samples_accepts_every_line()
    {
        int lines = CountLines(Paths.OwnSamples);
        Assert.InRange(lines, 50, 80);
        var run = await Bsq.OkAsync("import", Paths.OwnSamples, "--db", _dir.Db, "--json");
        Assert.Equal(lines, (int)run.JsonObject["accepted"]!);
        Assert.Empty(Rejected(run));
        Assert.Equal(new QueueStats(lines, 0, 0, 0), await _dir.StatsAsync());
    }
}

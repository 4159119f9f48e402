using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Xunit;

namespace QueueActors.Storage.Tests;

/// <summary>
/// Locates and reads the sample job files: the shared test corpus in ../shared/samples (next to the folder
/// holding QueueActors.sln, or wherever <see cref="EnvironmentVariable"/> points) and the repository's own demo
/// samples in samples/. A clone without the shared corpus skips the tests that need it
/// (<see cref="SharedSamplesFactAttribute"/>, <see cref="SharedSamplesTheoryAttribute"/>).
/// </summary>
internal static class ValidationSamples
{
    /// <summary>Names a folder to use instead of ../shared/samples (e.g. a missing one, to try the skipping).</summary>
    public const string EnvironmentVariable = "QUEUEACTORS_SHARED_SAMPLES";

    private const string NotNextToRepository = "../shared/samples is not next to this repository";

    private static readonly Lazy<string> RepoRoot = new(() => FindRepoRoot());

    private static readonly Lazy<string> SharedDir = new(() =>
        Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } overridden
            ? Path.GetFullPath(overridden)
            : Path.GetFullPath(Path.Combine(RepoRoot.Value, "..", "shared", "samples")));

    private static readonly Lazy<bool> SharedAvailable = new(() => File.Exists(Path.Combine(SharedDir.Value, "posts.jsonl")));

    /// <summary>The shared corpus folder (posts.jsonl, posts-invalid.jsonl, posts-invalid.expected.tsv, images/).</summary>
    public static string Dir => SharedDir.Value;

    /// <summary>Whether the shared corpus is there (its posts.jsonl exists).</summary>
    public static bool Available => SharedAvailable.Value;

    /// <summary>Why the tests that need the shared corpus are skipped, or null when it is there.</summary>
    public static string? SkipReason =>
        Available ? null
        : Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 }
            ? $"{NotNextToRepository} ({EnvironmentVariable} names {Dir}, which has no posts.jsonl)"
            : NotNextToRepository;

    /// <summary>The repository's demo samples folder (the input of bsq demo).</summary>
    public static string RepoDir => Path.Combine(RepoRoot.Value, "samples");

    public static string ValidPath => Path.Combine(Dir, "posts.jsonl");

    public static string InvalidPath => Path.Combine(Dir, "posts-invalid.jsonl");

    public static string ExpectedPath => Path.Combine(Dir, "posts-invalid.expected.tsv");

    /// <summary>The lines of a file split on LF only (index 0 is line 1), without a final empty line.</summary>
    public static string[] Lines(string path)
    {
        var text = File.ReadAllText(path, new UTF8Encoding(false, true));
        var lines = text.Split('\n');
        return text.EndsWith('\n') ? lines[..^1] : lines;
    }

    public static string[] ValidLines() => Lines(ValidPath);

    public static string[] InvalidLines() => Lines(InvalidPath);

    public static IEnumerable<string> ValidTexts() =>
        ValidLines().Where(l => l.Trim().Length > 0).Select(l =>
        {
            using var doc = JsonDocument.Parse(l);
            return doc.RootElement.GetProperty("text").GetString()!;
        }).ToList();

    /// <summary>posts-invalid.expected.tsv: line number → (code, reason).</summary>
    public static Dictionary<int, (string Code, string Reason)> Expected() =>
        Lines(ExpectedPath)
            .Skip(1)
            .Where(l => l.Trim().Length > 0)
            .Select(l => l.TrimEnd('\r').Split('\t'))
            .ToDictionary(p => int.Parse(p[0]), p => (p[1], p[2]));

    /// <summary>One row per line of posts.jsonl; no rows (rather than an exception) when the corpus is missing.</summary>
    public static IEnumerable<object[]> ValidLineNumbers() =>
        Available ? Enumerable.Range(1, ValidLines().Length).Select(n => new object[] { n }) : [];

    /// <summary>One row per line of posts-invalid.jsonl; no rows (rather than an exception) when the corpus is missing.</summary>
    public static IEnumerable<object[]> InvalidLineNumbers() =>
        Available ? Enumerable.Range(1, InvalidLines().Length).Select(n => new object[] { n }) : [];

    private static string FindRepoRoot([CallerFilePath] string sourceFile = "")
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Path.GetDirectoryName(sourceFile) ?? "" })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "QueueActors.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        throw new DirectoryNotFoundException("QueueActors.sln not found above the test binaries or the test sources.");
    }
}

public class JobLineTests
{
    /// <summary>
    /// The base folder for hand-written lines: the repository's own samples/, whose images/bread.jpg is all they
    /// need, so these tests run on a clone without ../shared/samples.
    /// </summary>
    private static readonly string Base = ValidationSamples.RepoDir;

    /// <summary>The folder the shared sample lines' relative image paths are resolved against.</summary>
    private static readonly string SharedBase = ValidationSamples.Dir;

    private static JobLineException Reject(string line, string? baseDirectory = null) =>
        Assert.Throws<JobLineException>(() => JobLines.Parse(line, baseDirectory ?? Base));

    // ---- the sample files ----

    [SharedSamplesTheory]
    [MemberData(nameof(ValidationSamples.ValidLineNumbers), MemberType = typeof(ValidationSamples))]
    public void Every_valid_sample_line_is_accepted(int lineNumber)
    {
        var line = ValidationSamples.ValidLines()[lineNumber - 1];
        NewJob job;
        try
        {
            job = JobLines.Parse(line, SharedBase);
        }
        catch (JobLineException e)
        {
            Assert.Fail($"line {lineNumber} rejected: field {e.Field ?? "(none)"}: {e.Reason}");
            return;
        }

        using var doc = JsonDocument.Parse(line);
        // The text is kept byte for byte; the handle is normalized.
        Assert.Equal(doc.RootElement.GetProperty("text").GetString(), job.Text);
        Assert.Equal(job.ExpectedHandle.ToLowerInvariant(), job.ExpectedHandle);
        Assert.False(job.ExpectedHandle.StartsWith('@'));
        if (job.ImagePath is not null)
        {
            Assert.True(Path.IsPathFullyQualified(job.ImagePath));
            Assert.True(File.Exists(job.ImagePath));
        }

        if (job.NotBefore is { } notBefore)
        {
            Assert.Equal(TimeSpan.Zero, notBefore.Offset);
        }
    }

    [SharedSamplesTheory]
    [MemberData(nameof(ValidationSamples.InvalidLineNumbers), MemberType = typeof(ValidationSamples))]
    public void Every_invalid_sample_line_is_rejected_with_the_expected_field(int lineNumber)
    {
        var line = ValidationSamples.InvalidLines()[lineNumber - 1];
        var (code, reason) = ValidationSamples.Expected()[lineNumber];

        JobLineException error;
        try
        {
            var job = JobLines.Parse(line, SharedBase);
            Assert.Fail($"line {lineNumber} ({code}: {reason}) was accepted: {job}");
            return;
        }
        catch (JobLineException e)
        {
            error = e;
        }

        var allowed = ExpectedFields(code, reason);
        Assert.True(allowed.Contains(error.Field),
            $"line {lineNumber} ({code}: {reason}): expected field {string.Join(" or ", allowed.Select(f => f ?? "null"))}, "
            + $"got {error.Field ?? "null"}: {error.Reason}");
        Assert.False(string.IsNullOrWhiteSpace(error.Reason));
        Assert.Equal(error.Reason, error.Message);
    }

    /// <summary>Maps a posts-invalid.expected.tsv code (and its reason) to the field(s) the error must name.</summary>
    private static string?[] ExpectedFields(string code, string reason)
    {
        static string FirstQuoted(string s) => s.Split('\'')[1];
        static string FirstWord(string s) => s.Split(' ')[0];
        return code switch
        {
            "JSON_INVALID" => [null],
            "UNKNOWN_FIELD" => [FirstQuoted(reason)],
            "FIELD_TYPE" => [FirstWord(reason)],
            "POST_EMPTY" => ["text"],
            "REPLY_INCOMPLETE" => ["reply_to_uri", "reply_to_cid"],
            "REPLY_CID_INVALID" => ["reply_to_cid"],
            "ALT_WITHOUT_IMAGE" => ["image_alt"],
            "IMAGE_NOT_FOUND" => ["image_path"],
            "NOT_BEFORE_INVALID" => ["not_before"],
            "DRY_RUN_INVALID" => ["dry_run"],
            _ when code.StartsWith("TEXT_", StringComparison.Ordinal) => ["text"],
            _ when code.StartsWith("HANDLE_", StringComparison.Ordinal) => ["expected_handle"],
            _ when code.StartsWith("REPLY_URI_", StringComparison.Ordinal) => ["reply_to_uri"],
            _ => throw new InvalidOperationException($"unmapped code {code}"),
        };
    }

    [SharedSamplesFact]
    public void ParseFile_reads_the_valid_samples()
    {
        var results = JobLines.ParseFile(ValidationSamples.ValidPath);
        Assert.Equal(269, results.Count);
        Assert.All(results, r => Assert.True(r.IsValid, $"line {r.LineNumber}: {r.Error?.Reason}"));
        Assert.Equal(Enumerable.Range(1, 269), results.Select(r => r.LineNumber));
    }

    [SharedSamplesFact]
    public void ParseFile_rejects_every_invalid_sample()
    {
        var results = JobLines.ParseFile(ValidationSamples.InvalidPath);
        Assert.Equal(61, results.Count);
        Assert.All(results, r =>
        {
            Assert.False(r.IsValid, $"line {r.LineNumber} accepted");
            Assert.Null(r.Job);
            Assert.NotNull(r.Error);
        });
        Assert.Equal(Enumerable.Range(1, 61), results.Select(r => r.LineNumber));
    }

    [Fact]
    public void ParseFile_accepts_every_line_of_the_repository_demo_samples()
    {
        var results = JobLines.ParseFile(Path.Combine(ValidationSamples.RepoDir, "posts.jsonl"));
        Assert.NotEmpty(results);
        Assert.All(results, r => Assert.True(r.IsValid, $"samples/posts.jsonl line {r.LineNumber}: {r.Error?.Field}: {r.Error?.Reason}"));
    }

    [SharedSamplesFact]
    public void Specific_sample_reasons_are_clear()
    {
        var lines = ValidationSamples.InvalidLines();
        string ReasonOf(int n) => Reject(lines[n - 1], SharedBase).Reason;

        Assert.Contains("did you mean 'not_before'?", ReasonOf(7));
        Assert.Contains("unknown field 'langs'", ReasonOf(8));
        Assert.DoesNotContain("did you mean", ReasonOf(8));
        Assert.Contains("text must be a string, got a number", ReasonOf(9));
        Assert.Contains("expected_handle must be a string, got an array", ReasonOf(10));
        Assert.Contains("Unix timestamp", ReasonOf(11));
        Assert.Contains("text is missing", ReasonOf(12));
        Assert.Contains("text is null", ReasonOf(13));
        Assert.Contains("301 graphemes; the limit is 300", ReasonOf(14));
        Assert.Contains("3037 UTF-8 bytes; the limit is 3000", ReasonOf(18));
        Assert.Contains("unpaired", ReasonOf(19));
        Assert.Contains("expected_handle is missing", ReasonOf(22));
        Assert.Contains("empty label", ReasonOf(25));
        Assert.Contains("reserved", ReasonOf(35));
        Assert.Contains("did you mean 'at://carol.example.net/app.bsky.feed.post/3mupdbnq3hd25'?", ReasonOf(41));
        Assert.Contains("not a post", ReasonOf(48));
        Assert.Contains("record key (TID)", ReasonOf(51));
        Assert.Contains("does-not-exist.jpg", ReasonOf(53));
        Assert.Contains("no UTC offset", ReasonOf(56));
        Assert.Contains("month 13", ReasonOf(58));
        Assert.Contains("'+09:00'", ReasonOf(59));
        Assert.Contains("got a string (\"yes\")", ReasonOf(60));
        Assert.Contains("got a number (1)", ReasonOf(61));
    }

    // ---- JSON syntax ----

    [Theory]
    [InlineData("{\"text\": \"x\", \"expected_handle\": \"alice.example.com\"", "before the object is closed")]
    [InlineData("{\"text\": \"x\", \"expected_handle\": \"alice.example.com\",}", "trailing comma")]
    [InlineData("{'text': 'x'}", "single-quoted")]
    [InlineData("{text: \"x\"}", "double quotes")]
    [InlineData("{\"text\": \"a\tb\", \"expected_handle\": \"alice.example.com\"}", "must be escaped")]
    [InlineData("{\"text\": \"x\", \"expected_handle\": \"alice.example.com\"} // note", "after the JSON object")]
    [InlineData("{\"text\": \"x\", /* c */ \"expected_handle\": \"alice.example.com\"}", "invalid JSON")]
    [InlineData("[{\"text\": \"x\", \"expected_handle\": \"alice.example.com\"}]", "an array, not an object")]
    [InlineData("42", "a number (42), not an object")]
    [InlineData("\"text\"", "not an object")]
    [InlineData("null", "not an object")]
    [InlineData("   ", "empty")]
    public void Lines_that_are_not_a_JSON_object_are_rejected_without_a_field(string line, string reasonPart)
    {
        var e = Reject(line);
        Assert.Null(e.Field);
        Assert.Contains(reasonPart, e.Reason);
    }

    [Fact]
    public void A_minimal_line_is_accepted_with_defaults()
    {
        var job = JobLines.Parse("{\"text\": \"hi\", \"expected_handle\": \"@Alice.Example.com\"}", Base);
        Assert.Equal("hi", job.Text);
        Assert.Equal("alice.example.com", job.ExpectedHandle);
        Assert.Null(job.NotBefore);
        Assert.False(job.DryRun);
        Assert.Equal(3, job.MaxAttempts);
        Assert.Null(job.IdempotencyKey);
    }

    [Fact]
    public void All_fields_are_read()
    {
        var line = """
            {"text": "a reply", "expected_handle": "bob.example.org",
             "reply_to_uri": "at://did:plc:ptenb53qybtyitgeylzid7it/app.bsky.feed.post/3mupdbnq3hd25",
             "reply_to_cid": "bafyreidtvgjez6tvkucznfwb6nfrtaeybyw7iojyjampd2yf26j7z2e7ui",
             "image_path": "images/bread.jpg", "image_alt": "bread", "not_before": "2026-12-24T18:00:00+09:00",
             "dry_run": true, "max_attempts": 5, "idempotency_key": "k-1"}
            """.ReplaceLineEndings(" ");
        var job = JobLines.Parse(line, Base);
        Assert.Equal("at://did:plc:ptenb53qybtyitgeylzid7it/app.bsky.feed.post/3mupdbnq3hd25", job.ReplyToUri);
        Assert.Equal("bafyreidtvgjez6tvkucznfwb6nfrtaeybyw7iojyjampd2yf26j7z2e7ui", job.ReplyToCid);
        Assert.Equal(Path.Combine(Base, "images", "bread.jpg"), job.ImagePath);
        Assert.Equal("bread", job.ImageAlt);
        Assert.Equal(new DateTimeOffset(2026, 12, 24, 9, 0, 0, TimeSpan.Zero), job.NotBefore);
        Assert.Equal(TimeSpan.Zero, job.NotBefore!.Value.Offset);
        Assert.True(job.DryRun);
        Assert.Equal(5, job.MaxAttempts);
        Assert.Equal("k-1", job.IdempotencyKey);
    }

    [Fact]
    public void Null_is_allowed_for_optional_fields()
    {
        var job = JobLines.Parse(
            "{\"text\": \"hi\", \"expected_handle\": \"alice.example.com\", \"reply_to_uri\": null, \"reply_to_cid\": null, "
            + "\"image_path\": null, \"image_alt\": null, \"not_before\": null, \"dry_run\": null, \"max_attempts\": null, "
            + "\"idempotency_key\": null}",
            Base);
        Assert.Null(job.ReplyToUri);
        Assert.Null(job.ImagePath);
        Assert.Null(job.NotBefore);
        Assert.False(job.DryRun);
        Assert.Equal(3, job.MaxAttempts);
    }

    [Fact]
    public void Text_is_kept_byte_for_byte()
    {
        const string text = "  line one\r\nline two\u00A0 e\u0301 ";
        var line = JsonSerializer.Serialize(new Dictionary<string, string> { ["text"] = text, ["expected_handle"] = "alice.example.com" });
        Assert.Equal(text, JobLines.Parse(line, Base).Text);
    }

    [Fact]
    public void A_relative_image_path_is_resolved_against_the_base_directory()
    {
        var job = JobLines.Parse(
            "{\"text\": \"\", \"expected_handle\": \"bob.example.org\", \"image_path\": \"images/bread.jpg\"}",
            Path.Combine(Base, "images", ".."));
        Assert.Equal(Path.GetFullPath(Path.Combine(Base, "images", "bread.jpg")), job.ImagePath);
        Assert.Equal("", job.Text);
    }

    [Fact]
    public void A_relative_image_path_is_not_resolved_against_the_current_directory()
    {
        var e = Reject("{\"text\": \"x\", \"expected_handle\": \"bob.example.org\", \"image_path\": \"images/bread.jpg\"}",
            Path.GetTempPath());
        Assert.Equal("image_path", e.Field);
        Assert.Contains(Path.Combine(Path.GetFullPath(Path.GetTempPath()), "images", "bread.jpg"), e.Reason);
        Assert.Contains("does not exist", e.Reason);
    }

    // ---- fields ----

    [Theory]
    [InlineData("not_befor", "not_before")]
    [InlineData("Text", "text")]
    [InlineData("expected-handle", "expected_handle")]
    [InlineData("dryrun", "dry_run")]
    [InlineData("image_atl", "image_alt")]
    [InlineData("reply_to_url", "reply_to_uri")]
    [InlineData("max_attempt", "max_attempts")]
    public void A_misspelt_field_is_rejected_with_a_suggestion(string name, string suggestion)
    {
        var e = Reject($"{{\"text\": \"x\", \"expected_handle\": \"alice.example.com\", \"{name}\": 1}}");
        Assert.Equal(name, e.Field);
        Assert.Contains($"unknown field '{name}' (did you mean '{suggestion}'?)", e.Reason);
    }

    [Theory]
    [InlineData("langs")]
    [InlineData("embed")]
    [InlineData("facets")]
    public void An_unknown_field_is_rejected_and_named(string name)
    {
        var e = Reject($"{{\"text\": \"x\", \"expected_handle\": \"alice.example.com\", \"{name}\": [\"de\"]}}");
        Assert.Equal(name, e.Field);
        Assert.Contains($"unknown field '{name}'", e.Reason);
        Assert.DoesNotContain("did you mean", e.Reason);
    }

    [Fact]
    public void A_duplicate_field_is_rejected()
    {
        var e = Reject("{\"text\": \"x\", \"expected_handle\": \"alice.example.com\", \"text\": \"y\"}");
        Assert.Equal("text", e.Field);
        Assert.Contains("more than once", e.Reason);
    }

    [Theory]
    [InlineData("\"text\": 1, \"expected_handle\": \"alice.example.com\"", "text", "text must be a string, got a number (1)")]
    [InlineData("\"text\": true, \"expected_handle\": \"alice.example.com\"", "text", "got a boolean")]
    [InlineData("\"text\": \"x\", \"expected_handle\": {}", "expected_handle", "got an object")]
    [InlineData("\"text\": \"x\", \"expected_handle\": null", "expected_handle", "expected_handle is null")]
    [InlineData("\"text\": \"x\"", "expected_handle", "expected_handle is missing")]
    [InlineData("\"expected_handle\": \"alice.example.com\"", "text", "text is missing")]
    [InlineData("\"text\": \"x\", \"expected_handle\": \"alice.example.com\", \"reply_to_uri\": 5", "reply_to_uri", "must be a string")]
    [InlineData("\"text\": \"x\", \"expected_handle\": \"alice.example.com\", \"image_alt\": [\"a\"]", "image_alt", "must be a string")]
    [InlineData("\"text\": \"x\", \"expected_handle\": \"alice.example.com\", \"dry_run\": \"true\"", "dry_run", "must be a JSON boolean")]
    [InlineData("\"text\": \"x\", \"expected_handle\": \"alice.example.com\", \"dry_run\": 0", "dry_run", "must be a JSON boolean")]
    [InlineData("\"text\": \"x\", \"expected_handle\": \"alice.example.com\", \"max_attempts\": \"3\"", "max_attempts", "must be an integer")]
    [InlineData("\"text\": \"x\", \"expected_handle\": \"alice.example.com\", \"max_attempts\": 2.5", "max_attempts", "must be an integer")]
    [InlineData("\"text\": \"x\", \"expected_handle\": \"alice.example.com\", \"max_attempts\": 1e10", "max_attempts", "must be an integer")]
    [InlineData("\"text\": \"x\", \"expected_handle\": \"alice.example.com\", \"max_attempts\": 0", "max_attempts", "at least 1")]
    [InlineData("\"text\": \"x\", \"expected_handle\": \"alice.example.com\", \"not_before\": 1796112000", "not_before", "RFC 3339")]
    [InlineData("\"text\": \"x\", \"expected_handle\": \"alice.example.com\", \"not_before\": \"2026-12-01T09:00:00\"", "not_before", "no UTC offset")]
    [InlineData("\"text\": \"x\", \"expected_handle\": \"alice.example.com\", \"idempotency_key\": 7", "idempotency_key", "must be a string")]
    [InlineData("\"text\": \"x\", \"expected_handle\": \"alice.example.com\", \"idempotency_key\": \"\"", "idempotency_key", "empty")]
    public void Wrong_types_and_missing_fields_are_rejected(string members, string field, string reasonPart)
    {
        var e = Reject("{" + members + "}");
        Assert.Equal(field, e.Field);
        Assert.Contains(reasonPart, e.Reason);
    }

    [Fact]
    public void A_lone_surrogate_escape_is_rejected_as_text()
    {
        var e = Reject("{\"text\": \"broken emoji \\ud83d at the end\", \"expected_handle\": \"dan.test\"}");
        Assert.Equal("text", e.Field);
        Assert.Contains("unpaired", e.Reason);

        var low = Reject("{\"text\": \"\\ude00\", \"expected_handle\": \"dan.test\"}");
        Assert.Equal("text", low.Field);

        // A proper pair is fine.
        Assert.Equal("😀", JobLines.Parse("{\"text\": \"\\ud83d\\ude00\", \"expected_handle\": \"dan.test\"}", Base).Text);
    }

    [Fact]
    public void Validator_errors_are_reported_with_the_snake_case_field()
    {
        var e = Reject("{\"text\": \"\", \"expected_handle\": \"alice.example.com\"}");
        Assert.Equal("text", e.Field);
        Assert.Equal("text is empty and there is no image; a post needs text or an image", e.Reason);
        Assert.IsType<ArgumentException>(e.InnerException);

        var h = Reject("{\"text\": \"x\", \"expected_handle\": \"alice..example.com\"}");
        Assert.Equal("expected_handle", h.Field);
        Assert.Equal("expected_handle 'alice..example.com' is not a valid handle: empty label", h.Reason);
    }

    // ---- ParseFile ----

    [Fact]
    public void ParseFile_numbers_lines_skips_blank_ones_and_flags_invalid_UTF8()
    {
        var folder = Path.Combine(Path.GetTempPath(), "queueactors-jobline-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var path = Path.Combine(folder, "jobs.jsonl");
            var content = new List<byte>();
            content.AddRange([0xEF, 0xBB, 0xBF]); // BOM
            content.AddRange("{\"text\": \"one\", \"expected_handle\": \"alice.example.com\"}\r\n"u8.ToArray());
            content.AddRange("\r\n   \n"u8.ToArray());
            content.AddRange("{\"text\": \"bad "u8.ToArray());
            content.Add(0xFF); // not UTF-8
            content.AddRange(" byte\", \"expected_handle\": \"alice.example.com\"}\n"u8.ToArray());
            content.AddRange("{\"text\": \"caf\u00e9\", \"expected_handle\": \"alice.example.com\", \"image_path\": \"pic.png\"}\n"u8.ToArray());
            content.AddRange("{\"text\": \"last, no newline\", \"expected_handle\": \"alice.example.com\"}"u8.ToArray());
            File.WriteAllBytes(path, content.ToArray());

            // pic.png next to the file: a PNG signature is enough.
            File.WriteAllBytes(Path.Combine(folder, "pic.png"), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13]);

            var results = JobLines.ParseFile(path);
            Assert.Equal([1, 4, 5, 6], results.Select(r => r.LineNumber));
            Assert.True(results[0].IsValid);
            Assert.Equal("one", results[0].Job!.Text);
            Assert.False(results[1].IsValid);
            Assert.Null(results[1].Error!.Field);
            Assert.Contains("not valid UTF-8", results[1].Error!.Reason);
            Assert.True(results[2].IsValid, results[2].Error?.Reason);
            Assert.Equal("café", results[2].Job!.Text);
            Assert.Equal(Path.Combine(folder, "pic.png"), results[2].Job!.ImagePath);
            Assert.True(results[3].IsValid);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}

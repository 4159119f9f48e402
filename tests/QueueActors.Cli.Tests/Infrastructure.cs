using System.Reflection;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using QueueActors.Storage;
using Xunit;

namespace QueueActors.Cli.Tests;

/// <summary>Every test that swaps Console.Out/Console.Error runs in this collection, one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConsoleCollection
{
    public const string Name = "Console";
}

/// <summary>What one in-process run of <c>bsq</c> returned and printed.</summary>
public sealed record CliRun(int ExitCode, string Out, string Err)
{
    /// <summary>Stdout parsed as one JSON value (null for the literal <c>null</c>).</summary>
    public JsonNode? Json => JsonNode.Parse(Out);

    public JsonObject JsonObject => Assert.IsType<JsonObject>(Json);

    public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{Out}\n--- stderr ---\n{Err}";
}

/// <summary>Runs <see cref="Program.Main"/> in-process with the console captured.</summary>
public static class Bsq
{
    public static async Task<CliRun> RunAsync(params string[] args)
    {
        var oldOut = Console.Out;
        var oldErr = Console.Error;
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        Console.SetOut(stdout);
        Console.SetError(stderr);
        int code;
        try
        {
            code = await Program.Main(args);
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldErr);
        }
        return new CliRun(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Runs and asserts the exit code, showing the whole output when it differs.</summary>
    public static async Task<CliRun> RunExpectingAsync(int exitCode, params string[] args)
    {
        var run = await RunAsync(args);
        Assert.True(run.ExitCode == exitCode, $"bsq {string.Join(' ', args)}: expected exit {exitCode}\n{run}");
        return run;
    }

    /// <summary>Runs expecting exit 0 and nothing on stderr.</summary>
    public static async Task<CliRun> OkAsync(params string[] args)
    {
        var run = await RunExpectingAsync(Program.Ok, args);
        Assert.True(run.Err.Length == 0, $"bsq {string.Join(' ', args)}: unexpected stderr\n{run}");
        return run;
    }
}

/// <summary>A temporary folder with a database path in it; deleted on dispose.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Folder = Path.Combine(Path.GetTempPath(), "queueactors-cli-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Folder);
        Db = Path.Combine(Folder, "queue.sqlite3");
    }

    public string Folder { get; }

    /// <summary>The database file (created by the first command that opens it).</summary>
    public string Db { get; }

    public string PathOf(string name) => Path.Combine(Folder, name);

    public BlueskyQueue Open(TimeProvider? clock = null) => new(Db, clock ?? TimeProvider.System);

    /// <summary>Creates the database with no jobs in it, as a first enqueue would.</summary>
    public async Task CreateEmptyAsync()
    {
        await using var queue = Open();
        await queue.InitDbAsync();
    }

    public async Task<QueueStats> StatsAsync()
    {
        await using var queue = Open();
        return await queue.StatsAsync();
    }

    public long CountRows(string table = "jobs")
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Db, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT COUNT(*) FROM {table};";
        return Convert.ToInt64(command.ExecuteScalar());
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // a leftover temp folder is not a test failure
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>Where the repository and the shared samples are.</summary>
public static class Paths
{
    /// <summary>The folder holding QueueActors.sln, found by walking up from the test binaries.</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The repository's own demo file.</summary>
    public static string OwnSamples => Path.Combine(RepoRoot, "samples", "posts.jsonl");

    /// <summary>Names a folder to use instead of ../shared/samples (e.g. a missing one, to try the skipping).</summary>
    public const string SharedSamplesVariable = "QUEUEACTORS_SHARED_SAMPLES";

    /// <summary>Where the shared samples are looked for: <see cref="SharedSamplesVariable"/> if set, else <c>../shared/samples</c>.</summary>
    public static string SharedSamplesFolder { get; } =
        Environment.GetEnvironmentVariable(SharedSamplesVariable) is { Length: > 0 } overridden
            ? Path.GetFullPath(overridden)
            : Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "samples"));

    /// <summary><see cref="SharedSamplesFolder"/> if it holds posts.jsonl, or null on a clone without it.</summary>
    public static string? SharedSamples { get; } =
        File.Exists(Path.Combine(SharedSamplesFolder, "posts.jsonl")) ? SharedSamplesFolder : null;

    /// <summary>Why the tests that need the shared samples are skipped, or null when they are there.</summary>
    public static string? SharedSamplesSkipReason { get; } =
        SharedSamples is not null ? null
        : Environment.GetEnvironmentVariable(SharedSamplesVariable) is { Length: > 0 }
            ? $"../shared/samples is not next to this repository ({SharedSamplesVariable} names {SharedSamplesFolder}, which has no posts.jsonl)"
            : "../shared/samples is not next to this repository";

    public static string Shared(string name) =>
        Path.Combine(SharedSamples ?? throw new InvalidOperationException(SharedSamplesSkipReason), name);

    /// <summary>
    /// Walks up from the test binaries to the folder holding QueueActors.sln; when the binaries were built
    /// outside the repository (<c>--artifacts-path</c>), walks up from the source folder they were built from.
    /// </summary>
    private static string FindRepoRoot()
    {
        var source = typeof(Paths).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "SourceDirectory")?.Value;
        foreach (var start in new[] { AppContext.BaseDirectory, source })
        {
            if (string.IsNullOrEmpty(start)) continue;
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "QueueActors.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException($"no QueueActors.sln above {AppContext.BaseDirectory} or {source}");
    }
}

/// <summary>A fact that needs <c>../shared/samples</c>; skipped (not failed) on a clone that has no such folder.</summary>
public sealed class SharedSamplesFactAttribute : FactAttribute
{
    public SharedSamplesFactAttribute()
    {
        if (Paths.SharedSamplesSkipReason is { } reason) Skip = reason;
    }
}

/// <summary>The keys of a job object: the jobs column names.</summary>
public static class JobKeys
{
    public static readonly string[] Columns =
    [
        "id", "created_at", "not_before", "text", "reply_to_uri", "reply_to_cid", "image_path", "image_alt",
        "expected_handle", "dry_run", "status", "attempts", "max_attempts", "last_error", "result_uri",
        "result_url", "posted_at",
    ];

    public static void AssertJob(JsonNode? node)
    {
        var job = Assert.IsType<JsonObject>(node);
        foreach (var column in Columns)
            Assert.True(job.ContainsKey(column), $"job JSON lacks the key '{column}': {job.ToJsonString()}");
    }
}

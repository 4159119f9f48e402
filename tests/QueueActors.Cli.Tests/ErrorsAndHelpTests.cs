using System.Text.RegularExpressions;
using Xunit;

namespace QueueActors.Cli.Tests;

[Collection(ConsoleCollection.Name)]
public sealed class ErrorsAndHelpTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string[]> DbCommands() => new()
    {
        new[] { "stats", "--json" },
        new[] { "list", "--json" },
        new[] { "claim", "--json" },
        new[] { "show", "00000000-0000-0000-0000-000000000000", "--json" },
        new[] { "requeue", "00000000-0000-0000-0000-000000000000", "--json" },
        new[] { "reclaim", "--json" },
        new[] { "purge", "--older-than", "30d", "--json" },
        new[] { "enqueue", "--text", "hi", "--handle", "alice.example.com", "--json" },
        new[] { "import", Paths.OwnSamples, "--json" },
    };

    [Theory]
    [MemberData(nameof(DbCommands))]
    public async Task A_file_that_is_not_sqlite_is_a_storage_error_and_stays_untouched(string[] args)
    {
        var path = _dir.PathOf("notes.txt");
        var content = "these are my notes, not a database\n"u8.ToArray().Concat(Enumerable.Range(0, 4000).Select(i => (byte)(i * 7))).ToArray();
        await File.WriteAllBytesAsync(path, content);

        var run = await Bsq.RunExpectingAsync(Program.StorageError, [.. args, "--db", path]);
        Assert.Empty(run.Out);
        Assert.Contains("storage error", run.Err);
        Assert.Contains("not a SQLite database", run.Err);
        Assert.Equal(content, await File.ReadAllBytesAsync(path));
    }

    [Theory]
    [MemberData(nameof(DbCommands))]
    public async Task A_directory_as_the_database_is_a_storage_error(string[] args)
    {
        var run = await Bsq.RunExpectingAsync(Program.StorageError, [.. args, "--db", _dir.Folder]);
        Assert.Empty(run.Out);
        Assert.Contains("storage error", run.Err);
    }

    [Theory]
    [InlineData("demo")]
    [InlineData("enqueue")]
    [InlineData("import")]
    [InlineData("stats")]
    [InlineData("list")]
    [InlineData("show")]
    [InlineData("claim")]
    [InlineData("reclaim")]
    [InlineData("requeue")]
    [InlineData("purge")]
    public async Task Every_command_has_help(string command)
    {
        foreach (var flag in new[] { "--help", "-h" })
        {
            var run = await Bsq.OkAsync(command, flag);
            Assert.Contains("Usage:", run.Out);
            // The usage line names the executable: bsq when installed, the test host in-process.
            Assert.Matches(new Regex($@"Usage:\s+\S+ {command}\b"), run.Out);
            Assert.Contains("--db", run.Out);
        }
    }

    [Fact]
    public async Task Root_help_lists_every_command()
    {
        var run = await Bsq.OkAsync("--help");
        foreach (var command in new[] { "demo", "enqueue", "import", "stats", "list", "show", "claim", "reclaim", "requeue", "purge" })
            Assert.Contains(command, run.Out);
    }

    [Fact]
    public async Task Help_never_opens_a_database()
    {
        var db = _dir.PathOf("never.sqlite3");
        await Bsq.OkAsync("stats", "--help", "--db", db);
        await Bsq.OkAsync("enqueue", "--help", "--db", db);
        Assert.False(File.Exists(db));
    }
}

using System.Text.Json.Nodes;
using QueueActors.Storage;
using Xunit;

namespace QueueActors.Cli.Tests;

[Collection(ConsoleCollection.Name)]
public sealed class ClaimListTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private async Task<string> EnqueueAsync(string text, string handle, params string[] more)
    {
        var run = await Bsq.OkAsync(["enqueue", "--text", text, "--handle", handle, "--db", _dir.Db, "--json", .. more]);
        return (string)run.JsonObject["id"]!;
    }

    [Fact]
    public async Task Claim_json_prints_null_when_nothing_is_due()
    {
        await _dir.CreateEmptyAsync();
        var run = await Bsq.OkAsync("claim", "--db", _dir.Db, "--json");
        Assert.Equal("null", run.Out.Trim());
        Assert.Null(run.Json);
    }

    [Fact]
    public async Task Claim_json_prints_the_job_with_every_column_in_progress()
    {
        var id = await EnqueueAsync("claim me", "alice.example.com");
        var run = await Bsq.OkAsync("claim", "--db", _dir.Db, "--json");
        JobKeys.AssertJob(run.Json);
        var job = run.JsonObject;
        Assert.Equal(id, (string?)job["id"]);
        Assert.Equal("in_progress", (string?)job["status"]);
        Assert.Equal("claim me", (string?)job["text"]);
        Assert.False(string.IsNullOrEmpty((string?)job["claim_token"]));

        var again = await Bsq.OkAsync("claim", "--db", _dir.Db, "--json");
        Assert.Equal("null", again.Out.Trim());
        Assert.Equal(new QueueStats(0, 1, 0, 0), await _dir.StatsAsync());
    }

    [Fact]
    public async Task Claim_takes_the_earliest_due_job_and_honours_handle()
    {
        var later = await EnqueueAsync("later", "alice.example.com", "--not-before", DateTimeOffset.UtcNow.AddMinutes(-1).ToString("O"));
        var earlier = await EnqueueAsync("earlier", "alice.example.com", "--not-before", DateTimeOffset.UtcNow.AddMinutes(-5).ToString("O"));
        var bob = await EnqueueAsync("bob's", "bob.example.org");

        var forBob = await Bsq.OkAsync("claim", "--handle", "bob.example.org", "--db", _dir.Db, "--json");
        Assert.Equal(bob, (string?)forBob.JsonObject["id"]);
        Assert.Equal("null", (await Bsq.OkAsync("claim", "--handle", "bob.example.org", "--db", _dir.Db, "--json")).Out.Trim());

        Assert.Equal(earlier, (string?)(await Bsq.OkAsync("claim", "--db", _dir.Db, "--json")).JsonObject["id"]);
        Assert.Equal(later, (string?)(await Bsq.OkAsync("claim", "--db", _dir.Db, "--json")).JsonObject["id"]);
    }

    [Fact]
    public async Task Claim_without_json_says_what_it_did()
    {
        await _dir.CreateEmptyAsync();
        Assert.Equal("nothing is due", (await Bsq.OkAsync("claim", "--db", _dir.Db)).Out.Trim());
        var id = await EnqueueAsync("x", "alice.example.com");
        var run = await Bsq.OkAsync("claim", "--db", _dir.Db);
        Assert.StartsWith(id, run.Out);
        Assert.Contains("claimed", run.Out);
    }

    [Fact]
    public async Task List_filters_by_status_and_handle_and_limits()
    {
        var a1 = await EnqueueAsync("a1", "alice.example.com", "--not-before", DateTimeOffset.UtcNow.AddMinutes(-3).ToString("O"));
        var a2 = await EnqueueAsync("a2", "alice.example.com");
        var a3 = await EnqueueAsync("a3", "alice.example.com", "--not-before", "+1h");
        var b1 = await EnqueueAsync("b1", "bob.example.org");
        await Bsq.OkAsync("claim", "--handle", "alice.example.com", "--db", _dir.Db, "--json"); // takes a1

        var all = Assert.IsType<JsonArray>((await Bsq.OkAsync("list", "--db", _dir.Db, "--json")).Json);
        Assert.Equal(4, all.Count);
        Assert.All(all, JobKeys.AssertJob);
        Assert.Equal(new[] { a1, a2, a3, b1 }.Order(), all.Select(j => (string)j!["id"]!).Order());

        var queued = Assert.IsType<JsonArray>((await Bsq.OkAsync("list", "--status", "queued", "--db", _dir.Db, "--json")).Json);
        Assert.Equal(3, queued.Count);
        Assert.All(queued, j => Assert.Equal("queued", (string?)j!["status"]));
        Assert.Equal(a3, (string?)queued[^1]!["id"]); // claim order: the one due in an hour comes last

        var inProgress = Assert.IsType<JsonArray>((await Bsq.OkAsync("list", "--status", "in_progress", "--db", _dir.Db, "--json")).Json);
        Assert.Equal(a1, (string?)Assert.Single(inProgress)!["id"]);

        var bob = Assert.IsType<JsonArray>((await Bsq.OkAsync("list", "--handle", "bob.example.org", "--db", _dir.Db, "--json")).Json);
        Assert.Equal(b1, (string?)Assert.Single(bob)!["id"]);

        var two = Assert.IsType<JsonArray>((await Bsq.OkAsync("list", "--limit", "2", "--db", _dir.Db, "--json")).Json);
        Assert.Equal(2, two.Count);

        var plain = await Bsq.OkAsync("list", "--db", _dir.Db);
        var lines = plain.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        Assert.Contains(lines, l => l.StartsWith(b1, StringComparison.Ordinal) && l.Contains("@bob.example.org") && l.Contains("queued"));
    }

    [Fact]
    public async Task List_of_an_empty_queue_is_an_empty_array()
    {
        await _dir.CreateEmptyAsync();
        Assert.Equal("[]", (await Bsq.OkAsync("list", "--db", _dir.Db, "--json")).Out.Trim());
        Assert.Equal("", (await Bsq.OkAsync("list", "--db", _dir.Db)).Out.Trim());
    }

    [Fact]
    public async Task List_with_an_unknown_status_is_bad_input()
    {
        var run = await Bsq.RunExpectingAsync(Program.BadInput, "list", "--status", "done", "--db", _dir.Db, "--json");
        Assert.Contains("done", run.Err);
        Assert.Empty(run.Out);
    }
}

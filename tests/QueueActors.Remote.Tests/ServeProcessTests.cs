using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using QueueActors.Storage;
using QueueActors.Storage.Tests;
using Xunit;

namespace QueueActors.Remote.Tests;

/// <summary><c>bsq serve</c> as a separate OS process, used by a poster in this one.</summary>
public sealed partial class ServeProcessTests
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Bsq_serve_serves_a_poster_in_another_process_and_stops_cleanly_on_SIGTERM()
    {
        if (OperatingSystem.IsWindows()) return; // SIGTERM is a Unix signal; Ctrl-C goes the same way through the host.
        using var db = new TempDb();
        using var serve = BsqProcess.Start("serve", "--port", "0", "--db", db.DbPath);

        var line = await serve.WaitForLineAsync(l => l.StartsWith("bsq serve: listening on ", StringComparison.Ordinal), StartTimeout);
        var address = ListeningAddress().Match(line).Groups[1].Value;
        Assert.Matches(@"^akka\.tcp://bluesky-queue@127\.0\.0\.1:\d+/user/bluesky-queue$", address);
        Assert.DoesNotContain(":0/", address); // the port actually bound, not the 0 asked for
        Assert.Contains($"database {db.DbPath}", line);

        string id;
        await using (var poster = await PosterHost.StartAsync(address))
        {
            id = await poster.Client.EnqueueAsync(Remote.JobFor(Remote.Alice, "through bsq serve"));
            var job = await poster.Client.ClaimNextAsync(Remote.Alice);
            Assert.Equal(id, job!.Id);
            await poster.Client.MarkPostedAsync(id, "at://did:plc:abc/app.bsky.feed.post/3kabc", "https://bsky.app/x", job.ClaimToken);
            Assert.Equal(new QueueStats(0, 0, 1, 0), await poster.Client.StatsAsync());
        }

        serve.Signal("TERM");
        var exitCode = await serve.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.True(exitCode == 0, $"exit code {exitCode}\n{serve.Output}");
        Assert.Contains("bsq serve: stopped, database closed", serve.Output);

        await using var queue = db.Open();
        Assert.Equal(JobStatus.Posted, (await queue.GetJobAsync(id))!.Status);
    }

    [Fact]
    public async Task Bsq_commands_with_service_enqueue_claim_and_count_through_a_running_bsq_serve()
    {
        if (OperatingSystem.IsWindows()) return;
        using var db = new TempDb();
        using var serve = BsqProcess.Start("serve", "--port", "0", "--db", db.DbPath);
        var line = await serve.WaitForLineAsync(l => l.StartsWith("bsq serve: listening on ", StringComparison.Ordinal), StartTimeout);
        var service = ListeningAddress().Match(line).Groups[1].Value.Replace("/user/bluesky-queue", "");

        using var enqueue = BsqProcess.Start("enqueue", "--service", service, "--text", "from the README's second terminal",
            "--handle", "@Alice.Example.com", "--json");
        Assert.True(await enqueue.WaitForExitAsync(StartTimeout) == 0, enqueue.Errors);
        var id = System.Text.Json.JsonDocument.Parse(enqueue.Output).RootElement.GetProperty("id").GetString();

        using var bad = BsqProcess.Start("enqueue", "--service", service, "--text", "x", "--handle", "not_a_handle");
        Assert.Equal(1, await bad.WaitForExitAsync(StartTimeout));
        Assert.Contains("validation: expected_handle", bad.Errors);
        Assert.DoesNotContain("(Parameter", bad.Errors);

        using var claim = BsqProcess.Start("claim", "--service", service, "--handle", "alice.example.com", "--json");
        Assert.Equal(0, await claim.WaitForExitAsync(StartTimeout));
        var claimed = System.Text.Json.JsonDocument.Parse(claim.Output).RootElement;
        Assert.Equal(id, claimed.GetProperty("id").GetString());
        Assert.Equal("in_progress", claimed.GetProperty("status").GetString());

        using var stats = BsqProcess.Start("stats", "--service", service, "--json");
        Assert.Equal(0, await stats.WaitForExitAsync(StartTimeout));
        Assert.Equal("{\"queued\":0,\"in_progress\":1,\"posted\":0,\"failed\":0}", stats.Output.Trim());

        serve.Signal("TERM");
        Assert.Equal(0, await serve.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Bsq_serve_refuses_a_port_that_is_already_taken()
    {
        if (OperatingSystem.IsWindows()) return;
        var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        try
        {
            int port = ((IPEndPoint)taken.LocalEndpoint).Port;
            using var db = new TempDb();
            using var serve = BsqProcess.Start("serve", "--port", port.ToString(), "--db", db.DbPath);
            Assert.Equal(1, await serve.WaitForExitAsync(StartTimeout));
            Assert.Contains($"127.0.0.1:{port} is already in use", serve.Errors);
        }
        finally
        {
            taken.Stop();
        }
    }

    [Fact]
    public async Task Bsq_serve_with_a_database_it_cannot_create_is_a_storage_error()
    {
        using var db = new TempDb();
        File.WriteAllText(db.PathOf("file"), "a file where a folder should be");
        using var serve = BsqProcess.Start("serve", "--port", "0", "--db", Path.Combine(db.PathOf("file"), "queue.sqlite3"));
        Assert.Equal(2, await serve.WaitForExitAsync(StartTimeout));
        Assert.Contains("storage error", serve.Errors);
    }

    [GeneratedRegex(@"listening on (\S+)")]
    private static partial Regex ListeningAddress();
}

/// <summary>bsq.dll (copied next to the tests by the project reference) run as <c>dotnet bsq.dll …</c>.</summary>
public sealed class BsqProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _stdout = new();
    private readonly ConcurrentQueue<string> _stderr = new();

    private BsqProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) _stdout.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _stderr.Enqueue(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Output => string.Join("\n", _stdout);
    public string Errors => string.Join("\n", _stderr);

    public static BsqProcess Start(params string[] args)
    {
        var bsq = Path.Combine(AppContext.BaseDirectory, "bsq.dll");
        Assert.True(File.Exists(bsq), $"{bsq} is missing: the test project references QueueActors.Cli for it");
        var info = new ProcessStartInfo(DotnetHost())
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(bsq);
        foreach (var arg in args) info.ArgumentList.Add(arg);
        info.Environment.Remove("BLUESKY_QUEUE_DB");
        return new BsqProcess(new Process { StartInfo = info });
    }

    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            var line = _stdout.FirstOrDefault(match);
            if (line is not null) return line;
            if (_process.HasExited)
                throw new InvalidOperationException($"bsq exited with {_process.ExitCode} before printing the line\n{Output}\n{Errors}");
            await Task.Delay(50);
        }
        throw new TimeoutException($"bsq did not print the line within {timeout}\n{Output}\n{Errors}");
    }

    /// <summary>Sends a Unix signal by name (TERM, INT): <see cref="Process.Kill()"/> would send SIGKILL.</summary>
    public void Signal(string name)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-" + name, _process.Id.ToString()]) { UseShellExecute = false })!;
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"bsq did not exit within {timeout}\n{Output}\n{Errors}");
        }
        _process.WaitForExit(); // drains the redirected output
        return _process.ExitCode;
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
        _process.Dispose();
    }

    private static string DotnetHost()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)) return host;
        if (Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        return "dotnet";
    }
}

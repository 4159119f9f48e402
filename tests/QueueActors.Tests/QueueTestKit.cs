using Akka.Actor;
using Akka.TestKit.Xunit2;
using QueueActors.Storage;
using QueueActors.Storage.Tests;
using Xunit;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace QueueActors.Tests;

/// <summary>
/// A TestKit whose ActorSystem runs the service's HOCON (it defines the db dispatcher), with a
/// database of its own in a temp folder (deleted after the test) and a clock that only moves when told.
/// </summary>
public abstract class QueueTestKit : TestKit
{
    /// <summary>Every Ask of the tests waits this long at most: an unanswered request fails the test, never hangs it.</summary>
    public static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(15);

    /// <summary>Handles that pass validation (the reserved TLDs such as <c>example</c> would not).</summary>
    public const string Alice = "alice.bsky.social";

    /// <summary>A second account.</summary>
    public const string Bob = "bob.bsky.social";

    protected QueueTestKit(ITestOutputHelper output)
        : base(QueueHostingExtensions.DefaultHocon, output)
    {
    }

    /// <summary>This test's database folder; deleted on dispose.</summary>
    protected TempDb Db { get; } = new();

    /// <summary>The queue's clock; starts at 2026-12-03T09:00:00Z.</summary>
    protected ManualClock Clock { get; } = new();

    /// <summary>
    /// Options on this test's database and clock, with the reclaim timer off (tests that want it turn it on)
    /// and nothing passivating during a test unless it asks to.
    /// </summary>
    protected QueueOptions Options(Action<QueueOptions>? configure = null)
    {
        var options = new QueueOptions
        {
            DbPath = Db.DbPath,
            TimeProvider = Clock,
            ReclaimInterval = TimeSpan.Zero,
            IdleTimeout = TimeSpan.FromMinutes(5),
        };
        configure?.Invoke(options);
        return options;
    }

    /// <summary>Starts a <see cref="QueueManager"/> at <c>/user/bluesky-queue</c>, as the hosting extension does.</summary>
    protected IActorRef StartManager(Action<QueueOptions>? configure = null) =>
        Sys.ActorOf(QueueManager.Props(Options(configure)), QueueManager.ActorName);

    /// <summary>A queue opened on this test's database directly (the storage API, no actors).</summary>
    protected BlueskyQueue OpenStorage() => new(new QueueSettings { DbPath = Db.DbPath, TimeProvider = Clock });

    /// <summary>Asks <paramref name="target"/> with <see cref="AskTimeout"/> and expects a reply of type <typeparamref name="T"/>.</summary>
    protected static async Task<T> Ask<T>(ICanTell target, object request)
    {
        var reply = await target.Ask<object>(request, AskTimeout);
        return reply is T answer
            ? answer
            : throw new XunitException($"{request} was answered {reply}, expected a {typeof(T).Name}");
    }

    /// <summary>Asks and expects a <see cref="QueueError"/> with <paramref name="code"/>.</summary>
    protected static async Task<QueueError> AskError(ICanTell target, object request, string code)
    {
        var error = await Ask<QueueError>(target, request);
        Assert.True(error.Code == code, $"{request} was answered {error}, expected code {code}");
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
        return error;
    }

    /// <summary>A valid job for <paramref name="handle"/>.</summary>
    protected static NewJob JobFor(string handle, string text = "hello from the queue tests") =>
        new() { Text = text, ExpectedHandle = handle };

    /// <summary>Enqueues through the actors and returns the id.</summary>
    protected static async Task<string> Enqueue(IActorRef manager, NewJob job) =>
        (await Ask<Enqueued>(manager, new Enqueue(job))).JobId;

    /// <summary>Reads a job through the actors; fails when it does not exist.</summary>
    protected static async Task<Job> GetJob(IActorRef manager, string jobId) =>
        (await Ask<JobInfo>(manager, new GetJob(jobId))).Job ?? throw new XunitException($"job {jobId} does not exist");

    /// <summary>Shuts the ActorSystem down first (it holds the database), then deletes the folder.</summary>
    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) Db.Dispose();
    }
}

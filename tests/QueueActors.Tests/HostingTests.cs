using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using QueueActors.Storage;
using QueueActors.Storage.Tests;
using Xunit;
using Xunit.Sdk;

namespace QueueActors.Tests;

/// <summary>A generic host whose only Akka set-up is <c>WithBlueskyQueue</c> serves the whole protocol.</summary>
public sealed class HostingTests : IAsyncLifetime
{
    private static readonly TimeSpan AskTimeout = QueueTestKit.AskTimeout;
    private const string Alice = QueueTestKit.Alice;
    private const string Uri = "at://did:plc:abcdefghijklmnopqrstuvwx/app.bsky.feed.post/3kabcdefghij2";
    private const string Url = "https://bsky.app/profile/alice.bsky.social/post/3kabcdefghij2";
    private readonly TempDb _db = new();
    private IHost? _host;

    [Fact]
    public async Task A_host_with_only_WithBlueskyQueue_serves_the_whole_protocol()
    {
        var host = await StartHost(b => b.WithBlueskyQueue(o => { o.DbPath = _db.DbPath; }));
        var manager = host.Services.GetRequiredService<ActorRegistry>().Get<QueueManager>();

        var id = (await Ask<Enqueued>(manager, new Enqueue(new NewJob { Text = "hello", ExpectedHandle = Alice }))).JobId;
        var retried = (await Ask<Enqueued>(manager, new Enqueue(new NewJob { Text = "again", ExpectedHandle = Alice }))).JobId;
        var job = (await Ask<JobClaimed>(manager, new ClaimNext(Alice))).Job;
        Assert.Equal(id, job?.Id);
        Assert.Equal(JobStatus.InProgress, (await Ask<JobUpdated>(manager, new ExtendLease(id, job!.ClaimToken!))).Status);
        Assert.Equal(JobStatus.Posted, (await Ask<JobUpdated>(manager, new MarkPosted(id, Uri, Url, job.ClaimToken))).Status);
        Assert.Equal(new DailyCount(1, 0), await Ask<DailyCount>(manager, new IncrementDaily(Alice)));
        Assert.Equal(new DailyCount(1, 0), await Ask<DailyCount>(manager, new GetDailyCount(Alice)));
        Assert.Equal(retried, (await Ask<JobClaimed>(manager, new ClaimNext())).Job?.Id);
        Assert.Equal(JobStatus.Queued,
            (await Ask<JobUpdated>(manager, new MarkRetry(retried, "rate limited", DateTimeOffset.UtcNow))).Status);
        Assert.Equal(retried, (await Ask<JobClaimed>(manager, new ClaimNext(Alice))).Job?.Id);
        Assert.Equal([retried], (await Ask<StaleReclaimed>(manager, new ReclaimStale(TimeSpan.Zero))).JobIds);
        Assert.Equal(retried, (await Ask<JobClaimed>(manager, new ClaimNext(Alice))).Job?.Id);
        Assert.Equal(JobStatus.Failed, (await Ask<JobUpdated>(manager, new MarkFailed(retried, "gave up"))).Status);
        Assert.Equal(new QueueStats(0, 0, 1, 1), await Ask<QueueStats>(manager, new GetStats()));
        Assert.Equal(3, (await Ask<JobInfo>(manager, new GetJob(retried))).Job?.Attempts);
        Assert.Equal(QueueErrorCodes.NotFound,
            (await Ask<QueueError>(manager, new MarkPosted(Guid.NewGuid().ToString(), Uri, Url))).Code);
        Assert.True(File.Exists(_db.DbPath));
    }

    [Fact]
    public async Task The_manager_is_in_the_registry_at_the_fixed_path_and_through_IRequiredActor()
    {
        var host = await StartHost(b => b.WithBlueskyQueue(o => { o.DbPath = _db.DbPath; }));
        var system = host.Services.GetRequiredService<ActorSystem>();

        var fromRegistry = host.Services.GetRequiredService<ActorRegistry>().Get<QueueManager>();
        var fromPath = await system.ActorSelection("/user/bluesky-queue").ResolveOne(AskTimeout);
        var required = await host.Services.GetRequiredService<IRequiredActor<QueueManager>>().GetAsync();

        Assert.Equal(fromRegistry, fromPath);
        Assert.Equal(fromRegistry, required);
        Assert.Equal("/user/bluesky-queue", fromPath.Path.ToStringWithoutAddress());
        var viaSelection = system.ActorSelection("/user/bluesky-queue");
        Assert.Equal(new QueueStats(0, 0, 0, 0), await Ask<QueueStats>(viaSelection, new GetStats()));
    }

    [Fact]
    public async Task Code_options_override_hocon()
    {
        var clock = new ManualClock();
        var host = await StartHost(b => b
            .AddHocon("bluesky-queue { stale-timeout = 10s, reclaim-interval = 0s }", HoconAddMode.Prepend)
            .WithBlueskyQueue(o =>
            {
                o.DbPath = _db.DbPath;
                o.StaleTimeout = TimeSpan.FromSeconds(20);
                o.TimeProvider = clock;
            }));
        var system = host.Services.GetRequiredService<ActorSystem>();
        var manager = host.Services.GetRequiredService<ActorRegistry>().Get<QueueManager>();
        Assert.Equal(TimeSpan.FromSeconds(10),
            QueueOptions.FromConfig(system.Settings.Config.GetConfig("bluesky-queue")).StaleTimeout);
        await Ask<Enqueued>(manager, new Enqueue(new NewJob { Text = "hello", ExpectedHandle = Alice }));
        var job = (await Ask<JobClaimed>(manager, new ClaimNext(Alice))).Job!;

        clock.Advance(TimeSpan.FromSeconds(15));
        Assert.Empty((await Ask<StaleReclaimed>(manager, new ReclaimStale())).JobIds); // HOCON's 10 s would reclaim it

        clock.Advance(TimeSpan.FromSeconds(6));
        Assert.Equal([job.Id], (await Ask<StaleReclaimed>(manager, new ReclaimStale())).JobIds);
    }

    [Fact]
    public async Task Hocon_settings_the_code_leaves_alone_reach_the_service()
    {
        var clock = new ManualClock();
        var host = await StartHost(b => b
            .AddHocon("bluesky-queue { reclaim-interval = 200ms, stale-timeout = 30s }", HoconAddMode.Prepend)
            .WithBlueskyQueue(o =>
            {
                o.DbPath = _db.DbPath;
                o.TimeProvider = clock;
            }));
        var manager = host.Services.GetRequiredService<ActorRegistry>().Get<QueueManager>();
        var id = (await Ask<Enqueued>(manager, new Enqueue(new NewJob { Text = "hello", ExpectedHandle = Alice }))).JobId;
        await Ask<JobClaimed>(manager, new ClaimNext(Alice));

        clock.Advance(TimeSpan.FromSeconds(31));

        // No ReclaimStale sent: the HOCON timer interval and stale timeout do it.
        await AwaitConditionAsync(async () => (await Ask<JobInfo>(manager, new GetJob(id))).Job?.Status == JobStatus.Queued,
            "the HOCON reclaim timer did not requeue the stale job");
    }

    [Fact]
    public async Task The_typed_client_serves_the_protocol_and_throws_queue_errors()
    {
        var host = await StartHost(b => b.WithBlueskyQueue(o => { o.DbPath = _db.DbPath; }));
        var client = new QueueClient(host.Services.GetRequiredService<ActorRegistry>().Get<QueueManager>(), AskTimeout);

        var id = await client.EnqueueAsync(new NewJob { Text = "hello", ExpectedHandle = Alice });
        var job = await client.ClaimNextAsync(Alice);
        Assert.Equal(id, job?.Id);
        Assert.Equal(JobStatus.Posted, (await client.MarkPostedAsync(id, Uri, Url, job!.ClaimToken)).Status);
        Assert.Equal(new QueueStats(0, 0, 1, 0), await client.StatsAsync(Alice));

        var error = await Assert.ThrowsAsync<QueueException>(() => client.MarkFailedAsync(id, "too late"));
        Assert.Equal(QueueErrorCodes.InvalidState, error.Code);
        var invalid = await Assert.ThrowsAsync<QueueException>(() =>
            client.EnqueueAsync(new NewJob { Text = "", ExpectedHandle = Alice }));
        Assert.Equal(QueueErrorCodes.Validation, invalid.Code);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.StopAsync(TimeSpan.FromSeconds(30));
            _host.Dispose();
        }
        _db.Dispose();
    }

    private async Task<IHost> StartHost(Action<AkkaConfigurationBuilder> configure)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddAkka("test", configure);
        _host = builder.Build();
        await _host.StartAsync();
        return _host;
    }

    /// <summary>Polls <paramref name="condition"/> (this class has no TestKit) until it holds, failing after ten seconds.</summary>
    private static async Task AwaitConditionAsync(Func<Task<bool>> condition, string failure)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, failure);
            await Task.Delay(50);
        }
    }

    private static async Task<T> Ask<T>(ICanTell target, object request)
    {
        var reply = await target.Ask<object>(request, AskTimeout);
        return reply is T answer
            ? answer
            : throw new XunitException($"{request} was answered {reply}, expected a {typeof(T).Name}");
    }
}

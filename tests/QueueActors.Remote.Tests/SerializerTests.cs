using System.Runtime.Serialization;
using System.Text;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using QueueActors.Serialization;
using QueueActors.Storage;
using Xunit;
using AkkaSerialization = Akka.Serialization.Serialization;

namespace QueueActors.Remote.Tests;

/// <summary>The queue's serializer: one round trip per message type, strict bindings, clear rejections.</summary>
public sealed class SerializerTests() : TestKit(QueueRemoteHosting.ClientConfig)
{
    private static readonly DateTimeOffset Beijing = new DateTimeOffset(2026, 12, 3, 17, 0, 0, TimeSpan.FromHours(8)).AddTicks(1234567);

    /// <summary>Every field set, nothing left to a default.</summary>
    public static readonly Job FullJob = new(
        Id: "0b6f3c1e-8f64-4a4e-9a59-2f7d7a1f5e11",
        CreatedAt: new DateTimeOffset(2026, 12, 3, 9, 0, 0, TimeSpan.Zero).AddTicks(1),
        NotBefore: Beijing,
        Text: "Ünïcödé: 你好 👨‍👩‍👧‍👦 🇯🇵 नमस्ते \"quotes\" \\ and\nnewlines\t\u0000",
        ReplyToUri: "at://did:plc:abc123/app.bsky.feed.post/3kabcdefghi2x",
        ReplyToCid: "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm",
        ImagePath: "/home/ü/pictures/ダウンロード.png",
        ImageAlt: "a fox, 狐",
        ExpectedHandle: "alice.bsky.social",
        DryRun: true,
        Status: JobStatus.InProgress,
        Attempts: 2,
        MaxAttempts: 5,
        LastError: "HTTP 429: rate limited",
        ResultUri: "at://did:plc:abc123/app.bsky.feed.post/3kzzz",
        ResultUrl: "https://bsky.app/profile/alice.bsky.social/post/3kzzz",
        PostedAt: new DateTimeOffset(2026, 12, 3, 10, 0, 0, TimeSpan.FromHours(-5)).AddTicks(9999999))
    {
        ClaimedAt = new DateTimeOffset(2026, 12, 3, 9, 30, 0, TimeSpan.FromMinutes(330)).AddTicks(42),
        ClaimToken = "tok-1",
        RecordKey = "3kabcdefghi2x",
        IdempotencyKey = "import:abc",
    };

    /// <summary>Every nullable field null.</summary>
    public static readonly Job SparseJob = new(
        "id-2", DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, "", null, null, null, null,
        "bob.bsky.social", false, JobStatus.Queued, 0, 1, null, null, null, null);

    public static readonly NewJob FullNewJob = new()
    {
        Text = "✨ new post ✨",
        ExpectedHandle = "@Alice.bsky.social",
        ReplyToUri = "at://did:plc:abc123/app.bsky.feed.post/3kabcdefghi2x",
        ReplyToCid = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm",
        ImagePath = "/tmp/x.png",
        ImageAlt = "alt",
        NotBefore = Beijing,
        DryRun = true,
        MaxAttempts = 7,
        IdempotencyKey = "k-1",
    };

    /// <summary>One instance of every message type, the storage replies included.</summary>
    public static TheoryData<string, object> Messages() => new()
    {
        { "enqueue full", new Enqueue(FullNewJob) },
        { "enqueue sparse", new Enqueue(new NewJob { Text = "hi", ExpectedHandle = "bob.bsky.social" }) },
        { "enqueued", new Enqueued("id-1", Created: false) },
        { "claim any", new ClaimNext() },
        { "claim one", new ClaimNext("alice.bsky.social") },
        { "claimed full", new JobClaimed(FullJob) },
        { "claimed sparse", new JobClaimed(SparseJob) },
        { "claimed none", new JobClaimed(null) },
        { "mark posted", new MarkPosted("id-1", "at://did:plc:x/app.bsky.feed.post/3k", "https://bsky.app/x", "tok") },
        { "mark posted untokened", new MarkPosted("id-1", "at://u", "https://u") },
        { "mark failed", new MarkFailed("id-1", "boom: 💥", "tok") },
        { "mark retry", new MarkRetry("id-1", "later", Beijing, null) },
        { "extend lease", new ExtendLease("id-1", "tok") },
        { "updated", new JobUpdated("id-1", JobStatus.Failed) },
        { "get stats", new GetStats() },
        { "get stats of one", new GetStats("alice.bsky.social") },
        { "stats", new QueueStats(1, 2, 3, int.MaxValue) },
        { "get daily", new GetDailyCount("alice.bsky.social") },
        { "increment daily", new IncrementDaily("alice.bsky.social", IsReply: true) },
        { "daily", new DailyCount(5, 7) },
        { "reclaim default", new ReclaimStale() },
        { "reclaim", new ReclaimStale(TimeSpan.FromMilliseconds(300_001.5)) },
        { "get job", new GetJob("id-1") },
        { "job", new JobInfo(FullJob) },
        { "no job", new JobInfo(null) },
        { "get next due", new GetNextDue("bob.bsky.social") },
        { "next due", new NextDue(Beijing) },
        { "nothing due", new NextDue(null) },
        { "error", new QueueError(QueueErrorCodes.Validation, "text: over 300 graphemes (301) — «quoted»") },
    };

    [Theory]
    [MemberData(nameof(Messages))]
    public void Every_message_round_trips_through_the_queue_serializer(string name, object message)
    {
        var serializer = Sys.Serialization.FindSerializerFor(message);
        Assert.IsType<QueueMessageSerializer>(serializer);
        Assert.Equal(7401, serializer.Identifier);
        var manifest = AkkaSerialization.ManifestFor(serializer, message);
        Assert.False(string.IsNullOrEmpty(manifest), name);
        Assert.DoesNotContain(message.GetType().Name, manifest);

        var bytes = serializer.ToBinary(message);
        var text = Encoding.UTF8.GetString(bytes);
        Assert.DoesNotContain("QueueActors", text); // no .NET type names on the wire
        Assert.DoesNotContain("$type", text);

        var back = Sys.Serialization.Deserialize(bytes, serializer.Identifier, manifest);
        Assert.Equal(message.GetType(), back.GetType());
        AssertSame(message, back);
    }

    [Fact]
    public void StaleReclaimed_round_trips_with_its_lists()
    {
        var message = new StaleReclaimed(["a", "b", "ü"], ["c"]);
        var back = (StaleReclaimed)RoundTrip(message);
        Assert.Equal(message.JobIds, back.JobIds);
        Assert.Equal(message.FailedJobIds, back.FailedJobIds);
        var empty = (StaleReclaimed)RoundTrip(new StaleReclaimed([], []));
        Assert.Empty(empty.JobIds);
        Assert.Empty(empty.FailedJobIds);
    }

    [Fact]
    public void A_job_keeps_every_field_its_instants_to_the_tick_and_their_offsets()
    {
        var back = ((JobClaimed)RoundTrip(new JobClaimed(FullJob))).Job!;
        Assert.Equal(FullJob, back);
        Assert.Equal(FullJob.Text, back.Text);
        foreach (var (sent, got) in new[]
                 {
                     (FullJob.CreatedAt, back.CreatedAt), (FullJob.NotBefore, back.NotBefore),
                     (FullJob.PostedAt!.Value, back.PostedAt!.Value), (FullJob.ClaimedAt!.Value, back.ClaimedAt!.Value),
                 })
        {
            Assert.Equal(sent.Ticks, got.Ticks);
            Assert.Equal(sent.Offset, got.Offset);
        }
        Assert.Equal(FullJob.ClaimToken, back.ClaimToken);
        Assert.Equal(FullJob.RecordKey, back.RecordKey);
        Assert.Equal(FullJob.IdempotencyKey, back.IdempotencyKey);

        var sparse = ((JobInfo)RoundTrip(new JobInfo(SparseJob))).Job!;
        Assert.Equal(SparseJob, sparse);
        Assert.Null(sparse.ClaimedAt);
        Assert.Null(sparse.ClaimToken);
        Assert.Null(sparse.IdempotencyKey);
    }

    [Fact]
    public void Text_with_unpaired_surrogates_crosses_exactly_so_the_service_can_refuse_it()
    {
        foreach (var text in new[] { "a\uD800b", "\uDC00", "end \uD83D", "\uDE00\uD83D" })
        {
            var back = (Enqueue)RoundTrip(new Enqueue(new NewJob { Text = text, ExpectedHandle = "alice.bsky.social" }));
            Assert.Equal(text, back.Job.Text);
        }
    }

    [Fact]
    public void The_wire_format_is_snake_case_json_with_the_card_status_strings()
    {
        var json = Encoding.UTF8.GetString(Serializer.ToBinary(new JobUpdated("id-1", JobStatus.InProgress)));
        Assert.Equal("""{"job_id":"id-1","status":"in_progress"}""", json);
        Assert.Equal("""{"queued":1,"in_progress":2,"posted":3,"failed":4}""",
            Encoding.UTF8.GetString(Serializer.ToBinary(new QueueStats(1, 2, 3, 4))));
    }

    [Fact]
    public void The_manifests_never_change()
    {
        // Part of the wire format: a poster and a service of different builds must agree on them.
        var expected = new Dictionary<Type, string>
        {
            [typeof(Enqueue)] = "enqueue", [typeof(Enqueued)] = "enqueued",
            [typeof(ClaimNext)] = "claim", [typeof(JobClaimed)] = "claimed",
            [typeof(MarkPosted)] = "mark-posted", [typeof(MarkFailed)] = "mark-failed",
            [typeof(MarkRetry)] = "mark-retry", [typeof(ExtendLease)] = "extend-lease",
            [typeof(JobUpdated)] = "updated", [typeof(GetStats)] = "get-stats", [typeof(QueueStats)] = "stats",
            [typeof(GetDailyCount)] = "get-daily", [typeof(IncrementDaily)] = "increment-daily",
            [typeof(DailyCount)] = "daily", [typeof(ReclaimStale)] = "reclaim", [typeof(StaleReclaimed)] = "reclaimed",
            [typeof(GetJob)] = "get-job", [typeof(JobInfo)] = "job", [typeof(GetNextDue)] = "get-next-due",
            [typeof(NextDue)] = "next-due", [typeof(QueueError)] = "error",
        };
        Assert.Equal(expected.OrderBy(e => e.Value), QueueMessageSerializer.Manifests.OrderBy(e => e.Value));
    }

    [Fact]
    public void Every_protocol_type_is_bound_to_the_queue_serializer_and_has_a_manifest()
    {
        var protocol = typeof(IQueueMessage).Assembly.GetTypes()
            .Where(t => typeof(IQueueMessage).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
            .Append(typeof(QueueStats)).Append(typeof(DailyCount))
            .ToList();
        Assert.True(protocol.Count >= 21, $"found only {protocol.Count} protocol types");
        foreach (var type in protocol)
        {
            Assert.IsType<QueueMessageSerializer>(Sys.Serialization.FindSerializerForType(type));
            Assert.True(QueueMessageSerializer.Manifests.ContainsKey(type),
                $"{type.Name} is a protocol message without a manifest in QueueMessageSerializer: add one");
        }
    }

    [Fact]
    public void Strict_serialization_leaves_no_fallback_to_newtonsoft()
    {
        Assert.False(Sys.Settings.Config.GetBoolean("akka.actor.serialization-settings.allow-unregistered-types"));
        Assert.Throws<SerializationException>(() => Sys.Serialization.FindSerializerForType(typeof(NotAProtocolMessage)));
        Assert.Throws<SerializationException>(() => Sys.Serialization.FindSerializerFor(new NotAProtocolMessage("x")));
    }

    [Theory]
    [InlineData("no-such-manifest", "{}", "unknown manifest 'no-such-manifest'")]
    [InlineData("Enqueue", "{}", "unknown manifest 'Enqueue'")]
    [InlineData("QueueActors.Enqueue, QueueActors", "{}", "unknown manifest")]
    [InlineData("enqueue", "{not json", "malformed 'enqueue' payload")]
    [InlineData("enqueue", "", "malformed 'enqueue' payload")]
    [InlineData("enqueue", "null", "'enqueue' payload is null")]
    [InlineData("enqueue", """{"job":{"text":"t","expected_handle":"a.bsky.social","not_befor":null}}""", "malformed")]
    [InlineData("enqueue", """{"job":{"expected_handle":"a.bsky.social"}}""", "malformed")]
    [InlineData("enqueue", """{"job":{"text":null,"expected_handle":"a.bsky.social"}}""", "malformed")]
    [InlineData("enqueue", """{"job":{"text":{"utf16le":"YQ"},"expected_handle":"a.bsky.social"}}""", "malformed")]
    [InlineData("updated", """{"job_id":"x","status":"exploded"}""", "Unknown job status 'exploded'")]
    [InlineData("updated", """{"job_id":"x","status":1}""", "malformed")]
    [InlineData("mark-posted", """{"job_id":"x","uri":"u"}""", "malformed")]
    [InlineData("next-due", """{"not_before":"yesterday"}""", "malformed")]
    [InlineData("stats", """{"queued":1,"in_progress":2,"posted":3,"failed":4,"$type":"System.IO.FileInfo"}""", "malformed")]
    public void Unknown_manifests_and_malformed_payloads_are_a_clear_SerializationException(string manifest, string json, string says)
    {
        var error = Assert.Throws<SerializationException>(() =>
            Serializer.FromBinary(Encoding.UTF8.GetBytes(json), manifest));
        Assert.Contains(says, error.Message);
        Assert.StartsWith("bluesky-queue serializer:", error.Message);
    }

    [Fact]
    public void A_non_protocol_object_is_not_written()
    {
        var error = Assert.Throws<SerializationException>(() => Serializer.ToBinary(new NotAProtocolMessage("x")));
        Assert.Contains("not a message of the queue protocol", error.Message);
    }

    private QueueMessageSerializer Serializer => (QueueMessageSerializer)Sys.Serialization.FindSerializerForType(typeof(IQueueMessage));

    private object RoundTrip(object message)
    {
        var bytes = Serializer.ToBinary(message);
        return Sys.Serialization.Deserialize(bytes, Serializer.Identifier, Serializer.Manifest(message));
    }

    private static void AssertSame(object sent, object got)
    {
        switch (sent)
        {
            case JobClaimed { Job: { } job }:
                Assert.Equal(job, ((JobClaimed)got).Job);
                break;
            case JobInfo { Job: { } job }:
                Assert.Equal(job, ((JobInfo)got).Job);
                break;
            default:
                Assert.Equal(sent, got);
                break;
        }
    }

    /// <summary>A record no binding covers.</summary>
    public sealed record NotAProtocolMessage(string Value);
}

using Akka.Actor;
using Microsoft.Data.Sqlite;
using QueueActors.Storage;
using Xunit;
using Xunit.Abstractions;

namespace QueueActors.Tests;

/// <summary>
/// A request that fails unexpectedly is undone and answered alone: the other requests of its
/// group-commit batch commit and are answered as if it had not been there.
/// </summary>
public sealed class BatchIsolationTests(ITestOutputHelper output) : QueueTestKit(output)
{
    [Fact]
    public async Task A_claim_that_fails_unexpectedly_is_undone_alone_and_the_rest_of_its_batch_commits()
    {
        var manager = StartManager();
        var good = await Enqueue(manager, JobFor(Bob));
        var other = await Enqueue(manager, JobFor(Bob, "a second job of bob's"));
        // Another program's row whose claim its own trigger refuses: the claim statement fails
        // inside the batch's transaction, which SQLite keeps open.
        InsertPoisonRow("poison", Alice); // the trigger names this id
        var claimed = await Ask<JobClaimed>(manager, new ClaimNext(Bob));
        Assert.Equal(good, claimed.Job?.Id);

        // Sent together so that they share batches; each answer must hold whatever the batching.
        var poisonClaim = manager.Ask<object>(new ClaimNext(Alice), AskTimeout);
        var mark = manager.Ask<object>(new MarkPosted(good, "at://did:plc:x/app.bsky.feed.post/3k", "https://bsky.app/x", claimed.Job!.ClaimToken), AskTimeout);
        var bobClaim = manager.Ask<object>(new ClaimNext(Bob), AskTimeout);

        var poisonAnswer = Assert.IsType<QueueError>(await poisonClaim);
        Assert.Equal(QueueErrorCodes.Storage, poisonAnswer.Code);
        Assert.Equal(JobStatus.Posted, Assert.IsType<JobUpdated>(await mark).Status);
        Assert.Equal(other, Assert.IsType<JobClaimed>(await bobClaim).Job?.Id);

        // The failed claim left nothing behind: the row is still queued, unleased.
        Assert.Equal(("queued", null), ReadStatusAndToken("poison"));
        Assert.Equal(new QueueStats(1, 1, 1, 0), await Ask<QueueStats>(manager, new GetStats()));
    }

    private void InsertPoisonRow(string id, string handle)
    {
        using var connection = new SqliteConnection($"Data Source={Db.DbPath};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText =
            "INSERT INTO jobs (id, created_at, not_before, text, expected_handle) " +
            "VALUES ($id, '2020-01-01 00:00:00', '2020-01-01 00:00:00', 'x', $handle); " +
            "CREATE TRIGGER poison BEFORE UPDATE OF status ON jobs WHEN OLD.id = 'poison' AND NEW.status = 'in_progress' " +
            "BEGIN SELECT RAISE(ABORT, 'poisoned by another program'); END;";
        command.Parameters.AddWithValue("$id", id);
        command.Parameters.AddWithValue("$handle", handle);
        command.ExecuteNonQuery();
    }

    private (string Status, string? Token) ReadStatusAndToken(string id)
    {
        using var connection = new SqliteConnection($"Data Source={Db.DbPath};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT status, claim_token FROM jobs WHERE id = $id;";
        command.Parameters.AddWithValue("$id", id);
        using var reader = command.ExecuteReader();
        Assert.True(reader.Read());
        return (reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1));
    }
}

using QueueActors.Storage;

namespace QueueActors.Bench;

/// <summary>Names and jobs shared by every workload and the worker processes.</summary>
internal static class Bench
{
    /// <summary>Handle number <paramref name="h"/>: valid for the queue's validation, and what the raw seeding SQL writes.</summary>
    public static string Handle(int h) => $"h{h}.bench.social";

    /// <summary><paramref name="count"/> jobs due now, job <c>i</c> for handle <c>i % handles</c>.</summary>
    public static List<NewJob> NewJobs(int count, int handles, string tag = "") =>
        Enumerable.Range(0, count).Select(i => new NewJob
        {
            Text = $"bench job {tag}#{i}: a short post of the kind the poster publishes, with a few words of text",
            ExpectedHandle = Handle(i % handles),
        }).ToList();

    /// <summary>Deletes a database file with its -wal and -shm.</summary>
    public static void DeleteDb(string path)
    {
        foreach (var file in new[] { path, path + "-wal", path + "-shm", path + "-journal" })
        {
            try { File.Delete(file); }
            catch (IOException) { }
        }
    }
}

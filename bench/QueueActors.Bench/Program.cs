// The benchmark harness of issue 7. See BenchOptions.Usage, or run with --help.
//
//   dotnet run -c Release --project bench/QueueActors.Bench -- [--quick] [--runs 3] [--json FILE] ...
//
// It also runs as the worker of the multi-process workload: `dotnet QueueActors.Bench.dll worker ...`.
using QueueActors.Bench;

if (args.Length > 0 && args[0] == "worker")
    return await Worker.RunAsync(args[1..]);

if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(BenchOptions.Usage);
    return 0;
}

BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine(BenchOptions.Usage);
    return 1;
}

return await new Runner(options).RunAsync();

using System.CommandLine;
using FastPt.Cli.Scenarios;

namespace FastPt.Cli.Commands;

/// <summary><c>fastpt hugetlb</c>: the hugetlb scenario with the folio counts, the HVO design and the switch
/// chosen on the command line.</summary>
internal static class HugeTlbCommand
{
    public static Command Create(CliEnvironment environment)
    {
        HugeTlbPoolOptions pool = HugeTlbPoolOptions.Create(default2M: 512, default1G: 2);
        Option<ulong?> memory = CommonOptions.Memory();
        Option<int> levels = CommonOptions.Levels();
        Option<bool> checkedMode = CommonOptions.Checked();
        Option<int> seed = CommonOptions.Seed();
        Option<bool> json = CommonOptions.Json();
        var command = new Command("hugetlb", "Grow and shrink the HugeTLB pools with vmemmap optimization: memmap pages saved, time per folio, counters back.");
        Option[] options = [.. pool.All, memory, levels, checkedMode, seed, json];
        foreach (Option option in options) command.Options.Add(option);
        command.SetAction(parse =>
        {
            MachineOptions common = CommonOptions.MachineOptions(parse.GetValue(memory), parse.GetValue(levels), parse.GetValue(checkedMode));
            var machine = new MachineOptions
            {
                MemorySize = common.MemorySize,
                PagingMode = common.PagingMode,
                CheckedMode = common.CheckedMode,
                HugeTlbVmemmapDesign = pool.DesignOf(parse),
            };
            // A count left at its default fits the machine; a count given is held to (not run, exit 3, if it does not fit).
            var scenario = new HugeTlbScenario(parse.GetValue(pool.Pages2M), parse.GetValue(pool.Pages1G), optimize: pool.OptimizeOf(parse),
                fit2MToMemory: parse.GetResult(pool.Pages2M) is null or { Implicit: true },
                fit1GToMemory: parse.GetResult(pool.Pages1G) is null or { Implicit: true });
            return ScenarioCommands.RunScenarios([scenario], machine, parse.GetValue(seed), parse.GetValue(json), environment);
        });
        return command;
    }
}

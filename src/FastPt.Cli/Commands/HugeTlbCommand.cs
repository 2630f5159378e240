using System.CommandLine;
using FastPt.Cli.Scenarios;

namespace FastPt.Cli.Commands;

/// <summary><c>fastpt hugetlb</c>: the hugetlb scenario with the folio counts, the HVO design and the switch
/// chosen on the command line.</summary>
internal static class HugeTlbCommand
{
    public static Command Create(CliEnvironment environment)
    {
        var pages2M = new Option<long>("--pages-2m")
        {
            Description = "2 MiB folios to put in the pool (nr_hugepages of hugepages-2048kB).",
            HelpName = "N",
            DefaultValueFactory = _ => 512,
        };
        var pages1G = new Option<long>("--pages-1g")
        {
            Description = "1 GiB folios to put in the pool (nr_hugepages of hugepages-1048576kB).",
            HelpName = "N",
            DefaultValueFactory = _ => 2,
        };
        foreach (Option<long> option in new[] { pages2M, pages1G })
        {
            option.Validators.Add(result =>
            {
                if (result.GetValueOrDefault<long>() < 0) result.AddError($"{option.Name} must not be negative");
            });
        }
        var design = new Option<string>("--design")
        {
            Description = "HVO design: 6x (tails remapped onto the head's page, fake heads) or shared (one shared tail page per zone and order).",
            HelpName = "6x|shared",
            DefaultValueFactory = _ => "6x",
        };
        design.AcceptOnlyFromAmong("6x", "shared");
        var noOptimize = new Option<bool>("--no-optimize") { Description = "Leave hugetlb_optimize_vmemmap off." };
        Option<ulong?> memory = CommonOptions.Memory();
        Option<int> levels = CommonOptions.Levels();
        Option<bool> checkedMode = CommonOptions.Checked();
        Option<int> seed = CommonOptions.Seed();
        Option<bool> json = CommonOptions.Json();
        var command = new Command("hugetlb", "Grow and shrink the HugeTLB pools with vmemmap optimization: memmap pages saved, time per folio, counters back.")
        {
            pages2M, pages1G, design, noOptimize, memory, levels, checkedMode, seed, json,
        };
        command.SetAction(parse =>
        {
            MachineOptions common = CommonOptions.MachineOptions(parse.GetValue(memory), parse.GetValue(levels), parse.GetValue(checkedMode));
            var options = new MachineOptions
            {
                MemorySize = common.MemorySize,
                PagingMode = common.PagingMode,
                CheckedMode = common.CheckedMode,
                HugeTlbVmemmapDesign = parse.GetValue(design) == "shared" ? HvoDesign.SharedTail : HvoDesign.Linux6x,
            };
            var scenario = new HugeTlbScenario(parse.GetValue(pages2M), parse.GetValue(pages1G), optimize: !parse.GetValue(noOptimize));
            return ScenarioCommands.RunScenarios([scenario], options, parse.GetValue(seed), parse.GetValue(json), environment);
        });
        return command;
    }
}

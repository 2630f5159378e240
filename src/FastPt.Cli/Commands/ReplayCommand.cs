using System.CommandLine;
using System.Globalization;
using FastPt.Cli.Rendering;
using FastPt.Cli.Scenarios;
using Spectre.Console;

namespace FastPt.Cli.Commands;

/// <summary><c>fastpt replay</c>: maps the pages of a page file into an empty address space and reports the page
/// tables it took, per level and as the VmPTE figure; or, with <c>--lackey</c>, replays a valgrind lackey trace
/// (<see cref="LackeyReplayCommand"/>).</summary>
internal static class ReplayCommand
{
    public static Command Create(CliEnvironment environment)
    {
        Option<string?> pages = CommonOptions.Pages(required: false);
        var lackey = new Option<string?>("--lackey")
        {
            Description = "A valgrind lackey trace (valgrind --tool=lackey --trace-mem=yes PROGRAM), plain or gzip: every access is "
                + "translated through one CPU, pages mapped on first touch by demand faults.",
            HelpName = "FILE",
        };
        lackey.Validators.Add(result => CommonOptions.AddInputFileError(result, result.Tokens.Count > 0 ? result.Tokens[0].Value : null, "lackey trace"));
        var thp = new Option<bool>("--thp") { Description = "With --lackey: transparent huge pages (a first touch maps 2 MiB where it can)." };
        var skipBad = new Option<bool>("--skip-bad") { Description = "With --lackey: count malformed lines and go on instead of stopping at the first." };
        Option<bool> json = CommonOptions.Json();
        Option<ulong?> baseAddress = CommonOptions.Base();
        Option<int> levels = CommonOptions.Levels();
        Option<ulong?> memory = CommonOptions.Memory();
        var command = new Command("replay",
            "Map the pages of a page file into an empty address space and count its page tables (VmPTE), or replay a valgrind lackey trace (--lackey).")
        {
            pages, lackey, baseAddress, levels, memory, thp, skipBad, json,
        };
        command.Validators.Add(result =>
        {
            bool hasPages = result.GetResult(pages) is not null, hasLackey = result.GetResult(lackey) is not null;
            if (hasPages == hasLackey) result.AddError("give either --pages FILE or --lackey FILE");
            else if (hasLackey && result.GetResult(baseAddress) is not null) result.AddError("--base applies to --pages only");
            else if (hasPages && (result.GetValue(thp) || result.GetValue(skipBad) || result.GetValue(json)))
                result.AddError("--thp, --skip-bad and --json apply to --lackey only");
        });
        command.SetAction(parse =>
        {
            if (parse.GetValue(lackey) is string trace)
            {
                return LackeyReplayCommand.Run(environment, trace,
                    CommonOptions.MachineOptions(parse.GetValue(memory), parse.GetValue(levels), checkedMode: false),
                    parse.GetValue(thp), parse.GetValue(skipBad), parse.GetValue(json));
            }
            string path = parse.GetValue(pages)!;
            ulong start = parse.GetValue(baseAddress) ?? PageSets.PageSetReplayer.DefaultBase;
            using Machine machine = CommonOptions.Boot(CommonOptions.MachineOptions(parse.GetValue(memory), parse.GetValue(levels), checkedMode: false), environment);
            using AddressSpace space = PageFileReplay.CreateSpace(machine, start);
            IAnsiConsole console = environment.CreateConsole();
            PageFileReplay.Outcome outcome = PageFileReplay.Run(environment, console, space, path, start);
            Render(console, environment, machine, path, start, outcome);
            return ExitCodes.Success;
        });
        return command;
    }

    private static void Render(IAnsiConsole console, CliEnvironment environment, Machine machine, string path, ulong start, PageFileReplay.Outcome outcome)
    {
        PageTableCounts tables = outcome.Replay.Tables;
        var facts = new FittedTable { Border = TableBorder.Simple, ShowHeaders = false };
        facts.AddColumn("fact");
        facts.AddColumn("value", rightAligned: true);
        facts.AddRow("file", Markup.Escape(TextFormat.PathForShell(path)));
        facts.AddRow("base", $"0x{start:x16}");
        facts.AddRow("paging", machine.PagingMode == PagingMode.FiveLevel ? "5-level" : "4-level");
        facts.AddRow("distinct pages", Number(outcome.Pages.Count));
        if (outcome.Pages.Count > 0)
        {
            facts.AddRow("lowest address", $"0x{start + outcome.Pages.First * 4096:x16}");
            facts.AddRow("highest address", $"0x{start + outcome.Pages.Last * 4096 + 4095:x16}");
        }
        facts.AddRow("Map calls (runs)", Number(outcome.Replay.MapCalls));
        facts.AddRow("read time", ReportValue.FromDuration(outcome.ReadTime).ToString());
        facts.AddRow("map time", ReportValue.FromDuration(outcome.Replay.Elapsed).ToString());
        facts.Write(console);

        PageTableReport.Write(console, environment.Output, machine.PagingMode, tables);
    }

    private static string Number(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}

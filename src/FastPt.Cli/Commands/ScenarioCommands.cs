using System;
using System.Collections.Generic;
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Diagnostics;
using System.Linq;
using FastPt.Cli.Rendering;
using FastPt.Cli.Scenarios;
using Spectre.Console;

namespace FastPt.Cli.Commands;

/// <summary>The main job (<c>fastpt</c> with no command), <c>fastpt run</c> and <c>fastpt scenarios</c>.</summary>
internal static class ScenarioCommands
{
    /// <summary>The options of the main job and of <c>run</c>.</summary>
    private sealed class ScenarioOptions
    {
        public Option<ulong?> Memory { get; } = CommonOptions.Memory();
        public Option<int> Levels { get; } = CommonOptions.Levels();
        public Option<bool> Checked { get; } = CommonOptions.Checked();
        public Option<int> Seed { get; } = CommonOptions.Seed();
        public Option<bool> Json { get; } = CommonOptions.Json();
        public Option<TimeSpan?> Duration { get; } = CommonOptions.Duration();
        public Option<int?> Repeat { get; } = CommonOptions.Repeat();

        public void AddTo(Command command)
        {
            command.Add(Duration);
            command.Add(Repeat);
            command.Add(Memory);
            command.Add(Levels);
            command.Add(Checked);
            command.Add(Seed);
            command.Add(Json);
        }

        public int Run(ParseResult parse, IReadOnlyList<IScenario> scenarios, CliEnvironment environment)
        {
            MachineOptions machineOptions = CommonOptions.MachineOptions(parse.GetValue(Memory), parse.GetValue(Levels), parse.GetValue(Checked));
            TimeSpan? duration = parse.GetValue(Duration);
            int? repeat = parse.GetValue(Repeat);
            if (duration is not null || repeat is not null)
                return ScenarioLoop.Run(scenarios, machineOptions, parse.GetValue(Seed), parse.GetValue(Json), environment, new LoopLimits(duration, repeat));
            return RunScenarios(scenarios, machineOptions, parse.GetValue(Seed), parse.GetValue(Json), environment);
        }
    }

    /// <summary>Makes the root command run every scenario when no command is given.</summary>
    public static void ConfigureMainJob(Command root, CliEnvironment environment)
    {
        var options = new ScenarioOptions();
        options.AddTo(root);
        root.SetAction(parse => options.Run(parse, ScenarioCatalog.All, environment));
    }

    public static Command CreateRun(CliEnvironment environment)
    {
        var options = new ScenarioOptions();
        var names = new Argument<string[]>("scenario")
        {
            Description = "Scenarios to run, in order (see 'fastpt scenarios').",
            Arity = ArgumentArity.OneOrMore,
        };
        names.Validators.Add(result =>
        {
            foreach (Token token in result.Tokens)
            {
                // A word starting with '-' is an unknown option, which ParsedCommandLine reports as such.
                if ((token.Value.Length > 1 && token.Value[0] == '-') || ScenarioCatalog.Find(token.Value) is not null) continue;
                result.AddError(UnknownScenario(token.Value));
            }
        });
        var command = new Command("run", "Run the named scenarios.") { names };
        options.AddTo(command);
        command.SetAction(parse =>
        {
            var scenarios = new List<IScenario>();
            foreach (string name in parse.GetValue(names) ?? [])
            {
                // The validator leaves words starting with '-' to the unknown-option check, which lets them through
                // after '--' ("run -- --memory"): they are unknown scenarios then.
                scenarios.Add(ScenarioCatalog.Find(name) ?? throw new CliException(UnknownScenario(name)));
            }
            return options.Run(parse, scenarios, environment);
        });
        return command;
    }

    private static string UnknownScenario(string name) =>
        $"unknown scenario {TextFormat.Quote(name)}; known scenarios: {string.Join(", ", ScenarioCatalog.All.Select(s => s.Name))}";

    public static Command CreateList(CliEnvironment environment)
    {
        var command = new Command("scenarios", "List the scenarios the main job runs, in order.");
        command.SetAction(_ =>
        {
            IAnsiConsole console = environment.CreateConsole();
            var table = new FittedTable();
            table.AddColumn("scenario");
            table.AddColumn("what it does");
            foreach (IScenario scenario in ScenarioCatalog.All) table.AddRow(Markup.Escape(scenario.Name), Markup.Escape(scenario.Description));
            table.Write(console);
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>Boots one machine, runs <paramref name="scenarios"/> on it in order, renders the reports and
    /// returns 0 only if every check of every scenario passed.</summary>
    public static int RunScenarios(IReadOnlyList<IScenario> scenarios, MachineOptions machineOptions, int seed, bool json, CliEnvironment environment)
    {
        ArgumentNullException.ThrowIfNull(scenarios);
        ArgumentNullException.ThrowIfNull(environment);
        IAnsiConsole console = environment.CreateConsole();
        long bootStart = Stopwatch.GetTimestamp();
        // With --json the environment is not interactive (Program.Run): no live display mixes into the document.
        using Machine machine = CommonOptions.Boot(machineOptions, environment);
        TimeSpan bootTime = Stopwatch.GetElapsedTime(bootStart);
        if (!json) ReportRenderer.RenderMachine(console, machineOptions, seed, bootTime);

        var reports = new List<ScenarioReport>();
        long start = Stopwatch.GetTimestamp();
        foreach (IScenario scenario in scenarios)
        {
            ScenarioReport report = environment.Interactive
                ? RunWithProgress(console, scenario, machine, seed, bootTime)
                : ScenarioRunner.Run(scenario, new ScenarioContext(machine, seed, bootTime));
            reports.Add(report);
            if (!json) ReportRenderer.Render(console, report);
        }
        TimeSpan total = Stopwatch.GetElapsedTime(start);
        if (json) JsonReportWriter.Write(environment.Output, machineOptions, seed, reports, bootTime, total);
        else ReportRenderer.RenderSummary(console, reports, bootTime, total);
        if (reports.Any(report => report.NotRunReason is null && !report.Passed)) return ExitCodes.ChecksFailed;
        ScenarioReport[] notRun = reports.Where(report => report.NotRunReason is not null).ToArray();
        foreach (ScenarioReport report in notRun) environment.Error.WriteLine($"fastpt: scenario {report.Scenario} could not run: {report.NotRunReason}");
        return notRun.Length > 0 ? ExitCodes.BadInput : ExitCodes.Success;
    }

    private static ScenarioReport RunWithProgress(IAnsiConsole console, IScenario scenario, Machine machine, int seed, TimeSpan bootTime)
    {
        ScenarioReport? report = null;
        console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .Start(context =>
            {
                ProgressTask task = context.AddTask(Markup.Escape(scenario.Name), maxValue: 1);
                report = ScenarioRunner.Run(scenario, new ScenarioContext(machine, seed, bootTime, new SpectreProgress(task, scenario.Name)));
                task.Value = task.MaxValue;
            });
        return report!;
    }

    /// <summary>Shows a scenario's progress on a Spectre progress task.</summary>
    private sealed class SpectreProgress(ProgressTask task, string name) : IProgress<ScenarioProgress>
    {
        public void Report(ScenarioProgress value)
        {
            task.Description = Markup.Escape($"{name}: {value.Step}");
            task.Value = value.Fraction * task.MaxValue;
        }
    }
}

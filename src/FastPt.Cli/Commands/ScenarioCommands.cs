using System;
using System.Collections.Generic;
using System.CommandLine;
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

        public void AddTo(Command command)
        {
            command.Add(Memory);
            command.Add(Levels);
            command.Add(Checked);
            command.Add(Seed);
            command.Add(Json);
        }

        public int Run(ParseResult parse, IReadOnlyList<IScenario> scenarios, CliEnvironment environment)
        {
            MachineOptions machineOptions = CommonOptions.MachineOptions(parse.GetValue(Memory), parse.GetValue(Levels), parse.GetValue(Checked));
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
        var command = new Command("run", "Run the named scenarios.") { names };
        options.AddTo(command);
        command.SetAction(parse =>
        {
            var scenarios = new List<IScenario>();
            foreach (string name in parse.GetValue(names) ?? [])
            {
                IScenario scenario = ScenarioCatalog.Find(name)
                    ?? throw new CliException($"unknown scenario '{name}'; known scenarios: {string.Join(", ", ScenarioCatalog.All.Select(s => s.Name))}");
                scenarios.Add(scenario);
            }
            return options.Run(parse, scenarios, environment);
        });
        return command;
    }

    public static Command CreateList(CliEnvironment environment)
    {
        var command = new Command("scenarios", "List the scenarios the main job runs, in order.");
        command.SetAction(_ =>
        {
            IAnsiConsole console = environment.CreateConsole();
            var table = new Table { Border = TableBorder.Rounded };
            table.AddColumn("scenario");
            table.AddColumn("what it does");
            foreach (IScenario scenario in ScenarioCatalog.All) table.AddRow(Markup.Escape(scenario.Name), Markup.Escape(scenario.Description));
            console.Write(table);
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>Boots one machine, runs <paramref name="scenarios"/> on it in order, renders the reports and
    /// returns 0 only if every check of every scenario passed.</summary>
    public static int RunScenarios(IReadOnlyList<IScenario> scenarios, MachineOptions machineOptions, int seed, bool json, CliEnvironment environment)
    {
        IAnsiConsole console = environment.CreateConsole();
        if (!json) ReportRenderer.RenderMachine(console, machineOptions, seed);
        long bootStart = Stopwatch.GetTimestamp();
        using Machine machine = environment.Interactive && !json ? BootWithProgress(console, machineOptions) : CommonOptions.Boot(machineOptions);
        TimeSpan bootTime = Stopwatch.GetElapsedTime(bootStart);

        var reports = new List<ScenarioReport>();
        long start = Stopwatch.GetTimestamp();
        foreach (IScenario scenario in scenarios)
        {
            ScenarioReport report = environment.Interactive && !json
                ? RunWithProgress(console, scenario, machine, seed, bootTime)
                : ScenarioRunner.Run(scenario, new ScenarioContext(machine, seed, bootTime));
            reports.Add(report);
            if (!json) ReportRenderer.Render(console, report);
        }
        TimeSpan total = Stopwatch.GetElapsedTime(start);
        if (json) JsonReportWriter.Write(environment.Output, machineOptions, seed, reports, total);
        else ReportRenderer.RenderSummary(console, reports, total);
        return reports.All(report => report.Passed) ? ExitCodes.Success : ExitCodes.ChecksFailed;
    }

    /// <summary>Boots on a terminal with a progress bar per boot step (64 TiB takes about a second).</summary>
    private static Machine BootWithProgress(IAnsiConsole console, MachineOptions options)
    {
        Machine? machine = null;
        console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .Start(context =>
            {
                ProgressTask task = context.AddTask("boot", maxValue: 1);
                machine = CommonOptions.Boot(options, new SpectreBootProgress(task));
                task.Value = task.MaxValue;
            });
        return machine!;
    }

    /// <summary>Shows the boot step running and how far it got.</summary>
    private sealed class SpectreBootProgress(ProgressTask task) : IProgress<BootProgress>
    {
        public void Report(BootProgress value)
        {
            task.Description = Markup.Escape($"boot: {value.Phase}");
            task.Value = value.Fraction * task.MaxValue;
        }
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

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using FastPt.Cli.Commands;
using FastPt.Cli.Scenarios;
using Xunit;

namespace FastPt.Tests.Cli;

public class ScenarioTests
{
    private const ulong SmallMachine = 4UL << 30;

    public static TheoryData<string, int> ScenariosAndLevels()
    {
        var data = new TheoryData<string, int>();
        foreach (IScenario scenario in ScenarioCatalog.All)
        {
            if (scenario is KernelCheckScenario) continue;   // reads the process-wide VmPTE: KernelCheckTests run it alone
            data.Add(scenario.Name, 4);
            data.Add(scenario.Name, 5);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(ScenariosAndLevels))]
    public void Every_scenario_passes_all_its_checks_on_a_small_machine(string name, int levels)
    {
        IScenario scenario = ScenarioCatalog.Find(name)!;
        var options = new MachineOptions { MemorySize = SmallMachine, PagingMode = levels == 5 ? PagingMode.FiveLevel : PagingMode.FourLevel };
        ScenarioReport report = ScenarioRunner.Run(scenario, options, seed: 7);
        Assert.Equal(name, report.Scenario);
        Assert.NotEmpty(report.Checks);
        Assert.NotEmpty(report.Facts);
        Assert.True(report.Passed, string.Join(Environment.NewLine, report.Checks.Where(c => !c.Passed).Select(c => $"{c.Name}: {c.Detail}")));
        Assert.True(report.Elapsed > TimeSpan.Zero);
        foreach (ReportTable table in report.Tables)
            Assert.All(table.Rows, row => Assert.Equal(table.Columns.Count, row.Count));
    }

    [Fact]
    public void Scenarios_pass_in_checked_mode_on_a_machine_that_is_not_a_whole_number_of_gigabytes()
    {
        // 2.5 GiB: the direct map needs 2 MiB leaves at its end, and the paging scenario's third region lies
        // above RAM, so its translations must report the missing memory.
        var options = new MachineOptions { MemorySize = 2560UL << 20, CheckedMode = true };
        using var machine = new Machine(options);
        foreach (IScenario scenario in ScenarioCatalog.All.Where(s => s is not KernelCheckScenario))
        {
            ScenarioReport report = ScenarioRunner.Run(scenario, new ScenarioContext(machine, seed: 3));
            Assert.True(report.Passed, scenario.Name + ": " + string.Join("; ", report.Checks.Where(c => !c.Passed).Select(c => $"{c.Name}: {c.Detail}")));
        }
        Assert.Equal(0, machine.GetStatistics().UseAfterFreeDetected);
    }

    [Fact]
    public void Faults_scenario_reports_every_lock_mode_page_size_and_layout_with_the_lock_balance()
    {
        using var machine = new Machine(new MachineOptions { MemorySize = 1UL << 30 });
        ScenarioReport report = ScenarioRunner.Run(new FaultsScenario(), new ScenarioContext(machine, seed: 1));
        Assert.True(report.Passed, string.Join("; ", report.Checks.Where(c => !c.Passed).Select(c => $"{c.Name}: {c.Detail}")));
        ReportTable throughput = report.Tables.Single(t => t.Title == "Fault throughput");
        Assert.Equal(3 * 2 * 3, throughput.Rows.Count); // lock modes x {4 KiB, THP} x {1 thread, disjoint, shared}
        Assert.All(throughput.Rows, row => Assert.True(row[6].WholeNumber > 0));
        ReportTable balance = report.Tables.Single(t => t.Title.StartsWith("Lock balance", StringComparison.Ordinal));
        Assert.Equal(["split, inline", "split, allocated", "single lock"], balance.Rows.Select(r => r[0].Text));
        Assert.All(balance.Rows, row => Assert.Equal(0, row[3].WholeNumber));
        Assert.True(balance.Rows[1][1].WholeNumber > 0); // allocated mode really allocated locks
        Assert.Equal(0, balance.Rows[2][1].WholeNumber); // single-lock mode has none
        Assert.Contains(report.Checks, c => c.Name.Contains("locks allocated = freed", StringComparison.Ordinal));
    }

    [Fact]
    public void Boot_scenario_reports_direct_map_and_memmap_figures()
    {
        using var machine = new Machine(new MachineOptions { MemorySize = SmallMachine });
        ScenarioReport report = new BootScenario().Run(new ScenarioContext(machine, 1, TimeSpan.FromMilliseconds(5)));
        Dictionary<string, ReportValue> facts = report.Facts.ToDictionary(f => f.Name, f => f.Value);
        Assert.Equal(1_048_576, facts["present pages"].WholeNumber);
        Assert.Equal(32 * 512, facts["nr_memmap_boot_pages"].WholeNumber);
        Assert.Equal(4L << 20, facts["DirectMap4k"].WholeNumber + facts["DirectMap2M"].WholeNumber + facts["DirectMap1G"].WholeNumber);
        Assert.Equal(ReportValueKind.Duration, facts["boot time (before the scenario)"].Kind);
    }

    [Fact]
    public void Collapse_scenario_reports_every_fragment_size_and_scheme_and_no_violation()
    {
        using var machine = new Machine(new MachineOptions { MemorySize = SmallMachine });
        MemoryStatistics before = machine.GetStatistics();
        ScenarioReport report = ScenarioRunner.Run(new CollapseScenario(TimeSpan.FromMilliseconds(100)), new ScenarioContext(machine, seed: 5));
        Assert.True(report.Passed, string.Join("; ", report.Checks.Where(c => !c.Passed).Select(c => $"{c.Name}: {c.Detail}")));
        Assert.Equal(0, report.Facts.Single(f => f.Name == "violations").Value.WholeNumber);
        ReportTable table = report.Tables.Single(t => t.Title == "Per configuration");
        Assert.Equal(6, table.Rows.Count);
        Assert.Equal([1L, 2L, 16L, 1L, 2L, 16L], table.Rows.Select(r => r[1].WholeNumber));
        Assert.All(table.Rows, r => Assert.True(r[3].WholeNumber >= 8, "at least 4 collapses of each kind")); // collapses
        MemoryStatistics after = machine.GetStatistics(); // the scenario's machines are its own
        Assert.Equal((before.PteBlocksAllocated, before.FreePages, before.RcuGracePeriods), (after.PteBlocksAllocated, after.FreePages, after.RcuGracePeriods));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CollapseScenario(TimeSpan.Zero));
    }

    [Fact]
    public void Catalog_names_are_unique_command_line_words_and_can_be_found()
    {
        string[] names = ScenarioCatalog.All.Select(s => s.Name).ToArray();
        Assert.Equal(["boot", "paging", "replay-synthetic", "hotplug", "faults", "collapse", "kernel-check", "hugetlb"], names);
        Assert.Equal(names.Length, names.Distinct(StringComparer.OrdinalIgnoreCase).Count());
        foreach (IScenario scenario in ScenarioCatalog.All)
        {
            Assert.Matches("^[a-z0-9]+(-[a-z0-9]+)*$", scenario.Name);
            Assert.False(string.IsNullOrWhiteSpace(scenario.Description));
            Assert.Same(scenario, ScenarioCatalog.Find(scenario.Name.ToUpperInvariant()));
        }
        Assert.Null(ScenarioCatalog.Find("no-such-scenario"));
    }

    [Fact]
    public void Synthetic_layout_is_deterministic_per_seed()
    {
        ulong[] first = SyntheticProcessLayout.Generate(11).Pages.Order().ToArray();
        ulong[] again = SyntheticProcessLayout.Generate(11).Pages.Order().ToArray();
        ulong[] other = SyntheticProcessLayout.Generate(12).Pages.Order().ToArray();
        Assert.Equal(first, again);
        Assert.NotEqual(first, other);
        Assert.All(first, page => Assert.True(page < (1UL << 47) / 4096));
    }

    [Fact]
    public void A_scenario_that_throws_becomes_a_failed_report()
    {
        using var machine = new Machine(new MachineOptions { MemorySize = 1UL << 30 });
        ScenarioReport report = ScenarioRunner.Run(new ThrowingScenario(), new ScenarioContext(machine, 1));
        Assert.False(report.Passed);
        ReportCheck check = Assert.Single(report.Checks);
        Assert.Contains("InvalidOperationException", check.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_failed_check_makes_the_run_exit_non_zero_and_shows_in_the_summary()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var environment = new CliEnvironment(output, error, Interactive: false);
        int exitCode = ScenarioCommands.RunScenarios([new FailingScenario(), ScenarioCatalog.Find("boot")!],
            new MachineOptions { MemorySize = 1UL << 30 }, 1, json: false, environment);
        Assert.Equal(ExitCodes.ChecksFailed, exitCode);
        Assert.Contains("FAIL", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("1 of 2 scenarios failed", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Boot_on_a_terminal_shows_its_progress_and_piped_output_does_not()
    {
        using var terminal = new StringWriter();
        using var error = new StringWriter();
        Assert.Equal(ExitCodes.Success, FastPt.Cli.Program.Run(["run", "boot", "--memory", "64G"], terminal, error, interactive: true));
        // Spectre draws the finished task before it clears it.
        Assert.Contains("boot: FreeMemory", terminal.ToString(), StringComparison.Ordinal);

        using var piped = new StringWriter();
        Assert.Equal(ExitCodes.Success, FastPt.Cli.Program.Run(["run", "boot", "--memory", "64G"], piped, error, interactive: false));
        Assert.DoesNotContain("boot: ", piped.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Report_rejects_a_table_row_of_the_wrong_width()
    {
        var report = new ScenarioReport("x", "y");
        Assert.Throws<ArgumentException>(() => report.AddTable(new ReportTable("t", ["a", "b"], [[ReportValue.FromWholeNumber(1)]])));
        Assert.False(report.Passed);
        Assert.True(report.CheckEqual("equal", 3, 3));
        Assert.True(report.Passed);
        Assert.False(report.CheckEqual("different", 3, 4));
        Assert.Equal(1, report.FailedChecks);
    }

    private sealed class ThrowingScenario : IScenario
    {
        public string Name => "throwing";
        public string Description => "Throws.";
        public ScenarioReport Run(ScenarioContext context) => throw new InvalidOperationException("deliberate");
    }

    private sealed class FailingScenario : IScenario
    {
        public string Name => "failing";
        public string Description => "Makes a claim that does not hold.";

        public ScenarioReport Run(ScenarioContext context)
        {
            var report = new ScenarioReport(this);
            report.CheckEqual("one equals two", 1, 2);
            return report;
        }
    }
}

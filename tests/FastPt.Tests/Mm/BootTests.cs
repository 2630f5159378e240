using System;
using System.Linq;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Mm;

public class BootTests
{
    [Theory]
    [InlineData(PagingMode.FourLevel)]
    [InlineData(PagingMode.FiveLevel)]
    public void Boot_builds_direct_map_and_vmemmap_like_linux(PagingMode mode)
    {
        using Machine machine = Create(4 * GiB + 6 * MiB, mode);
        MemoryStatistics s = machine.GetStatistics();
        long sections = (long)((4 * GiB + 6 * MiB + (128 * MiB - 1)) / (128 * MiB));
        Assert.Equal(sections, s.PresentSections);
        Assert.Equal(sections, s.OnlineSections);
        Assert.Equal(512 * sections, s.MemmapBootPages);
        Assert.Equal(0, s.MemmapPages);
        // 4 GiB in 1 GiB leaves, the 6 MiB tail in 2 MiB leaves.
        Assert.Equal(4L * 1024 * 1024, s.DirectMap1GiB);
        Assert.Equal(6L * 1024, s.DirectMap2MiB);
        Assert.Equal(0, s.DirectMap4KiB);
        Assert.Equal((long)((4 * GiB + 6 * MiB) >> 12), s.PresentPages);
        Assert.True(s.FreePages > 0 && s.FreePages < s.PresentPages);
        Assert.Equal(s.ManagedPages, s.FreePages);

        Mapping? direct = machine.LookupKernel(machine.DirectMapBase + (3 * GiB + 0x1234));
        Assert.NotNull(direct);
        Assert.Equal(PageSize.Size1G, direct.Value.Size);
        Assert.Equal(3 * GiB + 0x1234, direct.Value.PhysicalFor(machine.DirectMapBase + (3 * GiB + 0x1234)).Value);
        Mapping? vmemmap = machine.LookupKernel(machine.VmemmapBase + 64 * 40000);
        Assert.NotNull(vmemmap);
        Assert.Equal(PageSize.Size2M, vmemmap.Value.Size);
        Assert.Null(machine.LookupKernel(machine.DirectMapBase + 8 * GiB));
    }

    [Fact]
    public void Memory_map_with_holes_maps_only_ram()
    {
        var options = new MachineOptions
        {
            MemoryMap = [new MemoryRange(P(0), 3 * GiB), new MemoryRange(P(4 * GiB), 2 * GiB + 2 * MiB)],
            CheckedMode = true,
        };
        using var machine = new Machine(options);
        Assert.NotNull(machine.LookupKernel(machine.DirectMapBase + (3 * GiB - 1)));
        Assert.Null(machine.LookupKernel(machine.DirectMapBase + 3 * GiB));
        Assert.NotNull(machine.LookupKernel(machine.DirectMapBase + 6 * GiB));
        Assert.Null(machine.LookupKernel(machine.DirectMapBase + 6 * GiB + 2 * MiB));
        MemoryStatistics s = machine.GetStatistics();
        Assert.Equal((long)((5 * GiB + 2 * MiB) >> 12), s.PresentPages);
        Assert.Throws<ArgumentOutOfRangeException>(() => machine.ReadPhysical(P(3 * GiB), new byte[8]));
    }

    [Theory]
    [InlineData(0UL, 0UL)]
    [InlineData(1 * MiB, 4 * GiB)]
    [InlineData(0UL, 5 * MiB)]
    public void Bad_memory_maps_are_rejected(ulong start, ulong size)
    {
        var options = new MachineOptions { MemoryMap = [new MemoryRange(P(start), size)] };
        Assert.Throws<ArgumentException>(() => new Machine(options));
    }

    [Fact]
    public void Too_little_memory_to_boot_is_a_clear_error_before_anything_is_built()
    {
        // 2 MiB of RAM cannot even hold its own section's 2 MiB memmap block; below 32 MiB is refused up front.
        var error = Assert.Throws<ArgumentException>(() => new Machine(new MachineOptions { MemorySize = 2 * MiB }));
        Assert.Equal(nameof(MachineOptions.MemorySize), error.ParamName);
        Assert.Contains("32 MiB", error.Message);
    }

    [Fact]
    public void Kernel_tables_are_counted_and_constructed()
    {
        using Machine machine = Create(2 * GiB);
        MemoryStatistics s = machine.GetStatistics();
        Assert.Equal(1, s.KernelPageTablesByLevel[4]);
        Assert.True(s.KernelPageTablesByLevel.Sum() >= 4);
        Assert.Equal(s.KernelPageTablesByLevel.Sum() + s.UserPageTablesByLevel.Sum(), s.PageTablePages);
        using AddressSpace space = machine.CreateAddressSpace();
        Assert.Equal(1, machine.GetStatistics().UserPageTablesByLevel[4]);
    }

    private sealed class Recorder : IProgress<BootProgress>
    {
        public readonly System.Collections.Generic.List<BootProgress> Reports = new();

        public void Report(BootProgress value) => Reports.Add(value);
    }

    [Fact]
    public void Boot_reports_every_phase_in_order_on_the_booting_thread_up_to_its_total()
    {
        var recorder = new Recorder();
        int thread = Environment.CurrentManagedThreadId;
        var options = new MachineOptions { MemoryMap = [new MemoryRange(P(0), 3 * GiB), new MemoryRange(P(4 * GiB), 130 * GiB)] };
        using (var machine = new Machine(options, new ThreadChecked(recorder, thread)))
            Assert.Equal((long)(133 * GiB >> 12), machine.GetStatistics().PresentPages);
        BootPhase[] phases = recorder.Reports.Select(r => r.Phase).Distinct().ToArray();
        Assert.Equal(Enum.GetValues<BootPhase>(), phases);
        for (int i = 1; i < recorder.Reports.Count; i++)
        {
            BootProgress previous = recorder.Reports[i - 1], current = recorder.Reports[i];
            Assert.True(current.Phase > previous.Phase || current.Completed > previous.Completed, $"report {i} goes back: {previous} then {current}");
        }
        foreach (BootPhase phase in phases)
        {
            BootProgress last = recorder.Reports.Last(r => r.Phase == phase);
            Assert.Equal(last.Total, last.Completed);
            Assert.Equal(1.0, last.Fraction);
        }
        // The direct map and the memmap report along the way (every 64 GiB), not only at the end.
        Assert.True(recorder.Reports.Count(r => r.Phase == BootPhase.DirectMap) >= 3);
        Assert.True(recorder.Reports.Count(r => r.Phase == BootPhase.Memmap) >= 3);
        Assert.Equal(133 * GiB, recorder.Reports.Last(r => r.Phase == BootPhase.DirectMap).Total);
    }

    private sealed class ThreadChecked(IProgress<BootProgress> inner, int thread) : IProgress<BootProgress>
    {
        public void Report(BootProgress value)
        {
            Assert.Equal(thread, Environment.CurrentManagedThreadId);
            inner.Report(value);
        }
    }
}

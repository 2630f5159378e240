using System.Linq;
using FastPt.Mm;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.HugeTlb;

/// <summary>Machines and measurements the HugeTLB tests share.</summary>
internal static unsafe class HvoMachines
{
    public static readonly HvoDesign[] Designs = [HvoDesign.Linux6x, HvoDesign.SharedTail];

    public static Machine Boot(HvoDesign design, ulong memory = 4 * GiB, bool optimize = true, bool checkedMode = false) =>
        new(new MachineOptions
        {
            MemorySize = memory,
            HugeTlbVmemmapDesign = design,
            HugeTlbOptimizeVmemmap = optimize,
            CheckedMode = checkedMode,
        });

    /// <summary>The memmap counters (the kernel's two, and the frames really holding memmap).</summary>
    public readonly record struct MemmapCounts(long Runtime, long Boot, long Frames)
    {
        public long Total => Runtime + Boot;

        public static MemmapCounts Of(Machine machine)
        {
            MemoryStatistics s = machine.GetStatistics();
            return new MemmapCounts(s.MemmapPages, s.MemmapBootPages, s.MemmapFrames);
        }
    }

    /// <summary>Every statistic of the machine as text (lists by content), leaving out what time alone changes (grace
    /// periods, RCU callbacks run and pending, descriptor walks, host bytes) and, with
    /// <paramref name="withGatherEvents"/> false, the gather's counts of how it freed tables (a failed operation that
    /// merges its splits back frees their tables, by batch page or, with no frame left for one, synchronously): two
    /// states compare equal only if every other counter agrees. Records compare lists by reference, hence the
    /// text.</summary>
    public static string Describe(MemoryStatistics s, bool withGatherEvents = true)
    {
        s = s with { RcuGracePeriods = 0, RcuCallbacksRun = 0, RcuPendingCallbacks = 0, KernelDescriptorWalks = 0, HostBytes = 0 };
        if (!withGatherEvents) s = s with { TableSyncFrees = 0, TableBatchesQueued = 0 };
        var text = new System.Text.StringBuilder();
        foreach (System.Reflection.PropertyInfo p in typeof(MemoryStatistics).GetProperties())
        {
            object? value = p.GetValue(s);
            text.Append(p.Name).Append('=')
                .Append(value is System.Collections.IEnumerable list and not string ? string.Join(",", list.Cast<object>()) : value)
                .Append(' ');
        }
        return text.ToString();
    }

    /// <summary>The frame backing the descriptor of <paramref name="pfn"/> (through the kernel page tables).</summary>
    public static ulong BackingFrame(Machine machine, ulong pfn)
    {
        Mapping mapping = machine.LookupKernel(machine.VmemmapBase + pfn * 64)!.Value;
        return mapping.PhysicalFor(machine.VmemmapBase + pfn * 64).Pfn;
    }

    /// <summary>The 64 bytes of the descriptor of <paramref name="pfn"/>, read through the kernel mapping.</summary>
    public static PageDescriptor Descriptor(Machine machine, ulong pfn) => *machine.Memory.Memmap.Get(pfn);
}

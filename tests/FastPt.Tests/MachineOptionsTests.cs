using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Runtime.CompilerServices;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests;

/// <summary>Options are validated once, when the machine is built, with an error naming the option at fault, and
/// the machine keeps a copy nothing outside can change.</summary>
public class MachineOptionsTests
{
    private static MemoryRange R(ulong start, ulong size) => new(P(start), size);

    /// <summary>Every option that can hold a bad value, with bad values (the booleans cannot).</summary>
    public static TheoryData<string, MachineOptions> BadOptions()
    {
        var data = new TheoryData<string, MachineOptions>();
        foreach (ulong size in new ulong[] { 0, 2 * MiB, 16 * MiB, 30 * MiB, 12345, 33 * MiB, (1UL << 46) + 2 * MiB, ulong.MaxValue })
            data.Add(nameof(MachineOptions.MemorySize), new MachineOptions { MemorySize = size });
        IReadOnlyList<MemoryRange>[] maps =
        [
            [],
            [R(0, 0)],
            [R(1 * MiB, 4 * GiB)],
            [R(0, 5 * MiB)],
            [R(0, 16 * MiB)],                                   // too little RAM
            [R(4 * GiB, 1 * GiB), R(0, 1 * GiB)],              // unsorted
            [R(0, 1 * GiB), R(1 * GiB - 2 * MiB, 1 * GiB)],    // overlapping
            [R((1UL << 46) - 128 * MiB, 256 * MiB)],           // beyond MaxPhysicalAddress
            [R(ulong.MaxValue - 2 * MiB + 1, 4 * MiB)],        // wraps
            [.. Enumerable.Range(0, 16).Select(i => R((ulong)i * 128 * MiB, 2 * MiB))], // 32 MiB, all of it boot memmap
        ];
        foreach (IReadOnlyList<MemoryRange> map in maps) data.Add(nameof(MachineOptions.MemoryMap), new MachineOptions { MemoryMap = map });
        foreach (int mode in new[] { -1, 0, 3, 6 })
            data.Add(nameof(MachineOptions.PagingMode), new MachineOptions { PagingMode = (PagingMode)mode });
        foreach (ulong max in new ulong[] { 0, 64 * MiB, (1UL << 46) + 128 * MiB, 1UL << 47, ulong.MaxValue - 128 * MiB + 1 })
            data.Add(nameof(MachineOptions.MaxPhysicalAddress), new MachineOptions { MaxPhysicalAddress = max });
        data.Add(nameof(MachineOptions.MaxPhysicalAddress), new MachineOptions { PagingMode = PagingMode.FiveLevel, MaxPhysicalAddress = 1UL << 53 });
        foreach (int entries in new[] { 0, -1, 3, 1000, (1 << 16) + 1, 1 << 17, int.MinValue, int.MaxValue })
        {
            data.Add(nameof(MachineOptions.TlbEntries), new MachineOptions { TlbEntries = entries });
            data.Add(nameof(MachineOptions.PagingStructureCacheEntries), new MachineOptions { PagingStructureCacheEntries = entries });
        }
        foreach (int design in new[] { -1, 2, int.MaxValue })
            data.Add(nameof(MachineOptions.HugeTlbVmemmapDesign), new MachineOptions { HugeTlbVmemmapDesign = (HvoDesign)design });
        return data;
    }

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void A_bad_value_of_any_option_is_an_argument_exception_naming_it(string option, MachineOptions options)
    {
        var error = Assert.Throws<ArgumentException>(() => new Machine(options));
        Assert.Equal(option, error.ParamName);
        Assert.Contains(option, error.Message);
    }

    [Theory]
    [InlineData(32 * MiB, 1, 1)]
    [InlineData(34 * MiB, 1 << 16, 1 << 16)]
    public void The_limits_themselves_boot_and_translate(ulong memory, int tlbEntries, int pscEntries)
    {
        using var machine = new Machine(new MachineOptions { MemorySize = memory, TlbEntries = tlbEntries, PagingStructureCacheEntries = pscEntries });
        using AddressSpace space = machine.CreateAddressSpace();
        PhysAddr frames = machine.AllocatePhysical(2 * MiB);
        space.Map(V(1UL << 39), frames, 2 * MiB, Protection.ReadWrite, PageSize.Size4K);
        for (ulong offset = 0; offset < 2 * MiB; offset += 64 * KiB)
            Assert.Equal(frames.Value + offset + 8, space.Translate(V((1UL << 39) + offset + 8)).PhysAddr.Value);
        // The smallest machine can still hot-add and remove a gigabyte.
        machine.AddMemory(P(8 * GiB), 1 * GiB);
        machine.RemoveMemory(P(8 * GiB), 1 * GiB);
    }

    [Fact]
    public void The_machine_keeps_a_copy_the_caller_cannot_change()
    {
        var map = new List<MemoryRange> { R(0, 1 * GiB), R(4 * GiB, 1 * GiB) };
        var options = new MachineOptions { MemoryMap = map, TlbEntries = 64 };
        using var machine = new Machine(options);
        Assert.NotSame(options, machine.Options);
        map[0] = R(0, 3 * GiB);
        map.Add(R(8 * GiB, 1 * GiB));
        Assert.Equal([R(0, 1 * GiB), R(4 * GiB, 1 * GiB)], machine.Options.MemoryMap!);
        var list = (IList<MemoryRange>)machine.Options.MemoryMap!;
        Assert.True(list.IsReadOnly);
        Assert.Throws<NotSupportedException>(() => list[0] = R(0, 2 * GiB));
        Assert.Equal((2 * GiB) >> 12, (ulong)machine.GetStatistics().PresentPages);
    }

    [Fact]
    public void The_machines_copy_keeps_the_hugetlb_options()
    {
        var options = new MachineOptions { MemorySize = 64 * MiB, HugeTlbVmemmapDesign = HvoDesign.SharedTail, HugeTlbOptimizeVmemmap = true };
        using var machine = new Machine(options);
        Assert.NotSame(options, machine.Options);
        Assert.Equal(HvoDesign.SharedTail, machine.Options.HugeTlbVmemmapDesign);
        Assert.True(machine.Options.HugeTlbOptimizeVmemmap);
        Assert.Equal(HvoDesign.SharedTail, machine.HugeTlb.Design);
        Assert.True(machine.HugeTlb.OptimizeVmemmap);
    }

    [Fact]
    public void Every_option_is_init_only()
    {
        foreach (PropertyInfo property in typeof(MachineOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            MethodInfo? setter = property.SetMethod;
            Assert.True(setter is null || setter.ReturnParameter.GetRequiredCustomModifiers().Contains(typeof(IsExternalInit)),
                $"{property.Name} has a public setter");
        }
    }

    [Fact]
    public void Even_a_reflection_write_to_the_machines_options_does_not_reach_the_engine()
    {
        // The repro was machine.Options.TlbEntries = 0 after boot, then CreateContext and Translate: an
        // access violation (TLB mask -1). The property is init-only now; reflection can still write it.
        using Machine machine = Create(1 * GiB);
        typeof(MachineOptions).GetProperty(nameof(MachineOptions.TlbEntries))!.SetValue(machine.Options, 0);
        typeof(MachineOptions).GetProperty(nameof(MachineOptions.PagingStructureCacheEntries))!.SetValue(machine.Options, 0);
        using AddressSpace space = machine.CreateAddressSpace();
        PhysAddr frame = machine.AllocatePhysical(Page);
        space.Map(V(1UL << 39), frame, Page, Protection.ReadWrite);
        using MmuContext cpu = space.CreateContext();
        for (int i = 0; i < 3; i++) Assert.Equal(frame.Value + 16, cpu.Translate(V((1UL << 39) + 16)).PhysAddr.Value);
    }
}

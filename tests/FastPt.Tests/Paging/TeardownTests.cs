using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Xunit;
using static FastPt.Tests.Paging.PagingFixtures;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Paging;

/// <summary>Disposing an address space gives back every frame, disposing a machine every host arena, and every
/// method of a disposed object throws <see cref="ObjectDisposedException"/> without touching freed memory.</summary>
public class TeardownTests
{
    /// <summary>A bit of everything: 1 GiB, 2 MiB and 4 KiB leaves, splits, PROT_NONE, several 512 GiB regions and
    /// (5-level) several 256 TiB regions, and data written through it.</summary>
    private static void Populate(AddressSpace space, PhysAddr pool)
    {
        ulong far = space.Machine.PagingMode == PagingMode.FiveLevel ? 5UL << 48 : 5UL << 40;
        space.Map(V(GiB), pool, GiB + 6 * MiB + 5 * Page, Protection.ReadWrite);
        space.Unmap(V(GiB + 3 * MiB), Page);
        space.Protect(V(GiB + GiB + MiB), 2 * MiB, Protection.None);
        space.Map(V(far - 8 * Page), pool, 16 * Page, Protection.ReadExecute); // aliases the first 16 pages
        space.Map(V(600 * GiB), pool + 2 * MiB, 10 * MiB, Protection.Read, PageSize.Size4K);
        space.Write(V(GiB + 8), 0x1234UL);
        space.Write(V(GiB + 2 * MiB - 4), 0x5678UL);
        Assert.Equal(0x1234UL, space.Read<ulong>(V(far - 8 * Page + 8)));
    }

    [Theory]
    [InlineData(PagingMode.FourLevel, true)]
    [InlineData(PagingMode.FiveLevel, true)]
    [InlineData(PagingMode.FourLevel, false)]
    public void Disposing_an_address_space_returns_every_frame_it_used(PagingMode mode, bool checkedMode)
    {
        (Machine machine, PhysAddr pool) = MachineWithPool(mode, checkedMode);
        using Machine owner = machine;
        MemoryStatistics before = machine.GetStatistics();
        AddressSpace space = machine.CreateAddressSpace();
        AddressSpace other = machine.CreateAddressSpace();
        Populate(space, pool);
        Populate(other, pool);
        using (MmuContext context = space.CreateContext()) Assert.True(context.Translate(V(GiB)).Succeeded);
        Assert.Equal(2, machine.GetStatistics().AddressSpaces);
        Assert.True(machine.GetStatistics().FreePages < before.FreePages - 20);

        space.Dispose();
        space.Dispose(); // twice is fine
        other.Dispose();
        MemoryStatistics after = machine.GetStatistics();
        Assert.Equal(before.FreePages, after.FreePages);
        Assert.Equal(0, after.AddressSpaces);
        Assert.All(after.UserPageTablesByLevel, n => Assert.Equal(0, n));
        Assert.Equal(before.PageTablePages, after.PageTablePages);
        Assert.Equal(after.PtlocksAllocated, after.PtlocksFreed);
        Assert.Equal(0, after.UseAfterFreeDetected);
        // The data frames are the pool's, untouched by the teardown.
        var data = new byte[8];
        machine.ReadPhysical(pool + 8, data);
        Assert.Equal(0x1234UL, BitConverter.ToUInt64(data));
    }

    [Fact]
    public void Disposing_a_machine_returns_every_host_arena()
    {
        var machine = new Machine(new MachineOptions { MemorySize = 8 * GiB, CheckedMode = true });
        PhysAddr pool = machine.AllocatePhysical(GiB);
        AddressSpace space = machine.CreateAddressSpace();
        Populate(space, pool);
        space.Write(V(GiB + 900 * MiB), new byte[3 * MiB]); // touches more host chunks
        Assert.True(machine.HostArenas > 0);
        machine.Dispose();
        Assert.Equal(0, machine.HostArenas);
        machine.Dispose();
        Assert.Equal(0, machine.HostArenas);
        Assert.Throws<ObjectDisposedException>(() => space.Read<ulong>(V(GiB)));
    }

    /// <summary>Public instance methods of <paramref name="type"/> a test must cover.</summary>
    private static SortedSet<string> PublicMethods(Type type) =>
        new(type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly)
            .Where(m => !m.IsSpecialName && m.Name != nameof(IDisposable.Dispose))
            .Select(m => m.Name), StringComparer.Ordinal);

    /// <summary>Runs each call twice (a first throw must not leave anything behind that lets the second one
    /// through) and expects <see cref="ObjectDisposedException"/> from both; returns what did not throw.</summary>
    private static List<string> CallsThatDoNotThrow(IEnumerable<(string Name, Action Call)> calls)
    {
        var failures = new List<string>();
        foreach ((string name, Action call) in calls)
        {
            for (int attempt = 1; attempt <= 2; attempt++)
            {
                try
                {
                    call();
                    failures.Add($"{name} (call {attempt}) did not throw");
                }
                catch (ObjectDisposedException)
                {
                }
#pragma warning disable CA1031 // any other exception is a finding to report, not to propagate
                catch (Exception e)
                {
                    failures.Add($"{name} (call {attempt}) threw {e.GetType().Name}: {e.Message}");
                }
#pragma warning restore CA1031
            }
        }
        return failures;
    }

    private static List<(string Name, Action Call)> AddressSpaceCalls(AddressSpace space, MmuContext context, PhysAddr pool)
    {
        var bitmap = new ulong[16];
        return
        [
            ("TryMap", () => space.TryMap(V(64 * GiB), pool, Page, Protection.Read)),
            ("Map", () => space.Map(V(64 * GiB), pool, Page, Protection.Read)),
            ("TryUnmap", () => space.TryUnmap(V(GiB), Page)),
            ("Unmap", () => space.Unmap(V(GiB), Page)),
            ("TryDiscard", () => space.TryDiscard(V(GiB), Page)),
            ("Discard", () => space.Discard(V(GiB), Page)),
            ("TryProtect", () => space.TryProtect(V(GiB), Page, Protection.Read)),
            ("Protect", () => space.Protect(V(GiB), Page, Protection.Read)),
            ("CollectDirty", () => space.CollectDirty(V(GiB), 64 * Page, bitmap)),
            ("CollectAccessed", () => space.CollectAccessed(V(GiB), 64 * Page, bitmap)),
            ("BeginGather", () => space.BeginGather().Dispose()),
            ("Lookup", () => space.Lookup(V(GiB))),
            ("Dump", () => space.Dump(V(0), 4 * GiB)),
            ("CountMappings", () => space.CountMappings(V(0), 4 * GiB)),
            ("CreateContext", () => space.CreateContext()),
            ("Translate", () => space.Translate(V(GiB + 8))),
            ("Translate", () => space.Translate(V(GiB + 8), AccessKind.Write, context)),
            ("TryTranslate", () => space.TryTranslate(V(GiB + 8), AccessKind.Read, out _)),
            ("TryRead", () => space.TryRead(V(GiB + 8), new byte[8], out _)),
            ("TryWrite", () => space.TryWrite(V(GiB + 8), new byte[8], out _)),
            ("Read", () => space.Read(V(GiB + 8), new byte[8])),
            ("Write", () => space.Write(V(GiB + 8), new byte[8])),
            ("Read", () => space.Read<ulong>(V(GiB + 8))),
            ("Write", () => space.Write(V(GiB + 8), 1UL)),
            ("FlushesPublishedOf", () => space.FlushesPublishedOf(FlushKind.All)),
            ("LeafCount", () => space.LeafCount(PageSize.Size4K)),
            ("get_PageTables", () => _ = space.PageTables),
            ("get_CurrentContext", () => _ = space.CurrentContext),
            ("TryMapAnonymous", () => space.TryMapAnonymous(V(64 * GiB), Page, Protection.Read)),
            ("MapAnonymous", () => space.MapAnonymous(V(64 * GiB), Page, Protection.Read)),
            ("get_AnonymousRegions", () => _ = space.AnonymousRegions),
            ("HandleFault", () => space.HandleFault(V(GiB + 8), AccessKind.Read)),
            ("TryCollapse", () => space.TryCollapse(V(GiB))),
            ("Collapse", () => space.Collapse(V(GiB))),
            ("TranslateLockless", () => space.TranslateLockless(V(GiB + 8))),
            ("GetPagesLockless", () => space.GetPagesLockless(V(GiB), new PhysAddr[4])),
            ("GetPagemapEntry", () => space.GetPagemapEntry(V(GiB))),
            ("ReadPagemap", () => space.ReadPagemap(V(GiB), new PagemapEntry[4])),
            ("Contains", () => space.Contains(V(GiB))),
        ];
    }

    private static List<(string Name, Action Call)> ContextCalls(MmuContext context, AddressSpace otherSpace, Machine machine) =>
    [
        ("TryTranslate", () => context.TryTranslate(V(GiB + 8), AccessKind.Read, out _)),
        ("TryTranslate", () => context.TryTranslate(V(GiB + 8), AccessKind.Write, out _)),
        ("Translate", () => context.Translate(V(GiB + 8))),
        ("TranslateKernel", () => context.TranslateKernel(machine.DirectMapBase)),
        ("SwitchTo", () => context.SwitchTo(otherSpace)),
        ("FlushLocal", () => context.FlushLocal()),
        ("Read", () => context.Read<ulong>(V(GiB + 8))),
        ("Write", () => context.Write(V(GiB + 8), 1UL)),
        ("TryRead", () => context.TryRead(V(GiB + 8), new byte[8], out _)),
        ("TryWrite", () => context.TryWrite(V(GiB + 8), new byte[8], out _)),
        ("Read", () => context.Read(V(GiB + 8), new byte[8])),
        ("Write", () => context.Write(V(GiB + 8), new byte[8])),
        ("HandleFault", () => context.HandleFault(V(GiB + 8), AccessKind.Write)),
        ("set_DemandFaults", () => context.DemandFaults = false),
        ("TranslateLockless", () => context.TranslateLockless(V(GiB + 8))),
        ("GetPagesLockless", () => context.GetPagesLockless(V(GiB), new PhysAddr[4])),
    ];

    private static List<(string Name, Action Call)> MachineCalls(Machine machine, PhysAddr pool) =>
    [
        ("CreateAddressSpace", () => machine.CreateAddressSpace()),
        ("AllocatePhysical", () => machine.AllocatePhysical(Page)),
        ("TryAllocatePhysical", () => machine.TryAllocatePhysical(Page, out _)),
        ("FreePhysical", () => machine.FreePhysical(pool, GiB)),
        ("ReadPhysical", () => machine.ReadPhysical(pool, new byte[8])),
        ("WritePhysical", () => machine.WritePhysical(pool, new byte[8])),
        ("LookupKernel", () => machine.LookupKernel(machine.DirectMapBase)),
        ("DumpKernel", () => machine.DumpKernel(machine.DirectMapBase, GiB)),
        ("CountKernelMappings", () => machine.CountKernelMappings(machine.DirectMapBase, GiB)),
        ("AddMemory", () => machine.AddMemory(P(64 * GiB), 128 * MiB)),
        ("RemoveMemory", () => machine.RemoveMemory(P(0), 128 * MiB)),
        ("TryAddMemory", () => machine.TryAddMemory(P(64 * GiB), 128 * MiB)),
        ("TryRemoveMemory", () => machine.TryRemoveMemory(P(0), 128 * MiB)),
        ("GetStatistics", () => machine.GetStatistics()),
        ("RcuBarrier", () => machine.RcuBarrier()),
        ("GetPageFlags", () => machine.GetPageFlags(0)),
        ("ReadPageFlags", () => machine.ReadPageFlags(0, new ulong[4])),
    ];

    /// <summary>Warms the calling thread's context and <paramref name="context"/> on the pages the calls use, so
    /// that a disposed object that still answered from its TLB would be caught.</summary>
    private static void Warm(AddressSpace space, MmuContext context)
    {
        space.Write(V(GiB + 8), 7UL);
        Assert.Equal(7UL, space.Read<ulong>(V(GiB + 8)));
        context.Write(V(GiB + 8), 8UL);
        Assert.Equal(8UL, context.Read<ulong>(V(GiB + 8)));
        Assert.True(space.TryTranslate(V(GiB + 8), AccessKind.Write, out _));
        Assert.True(context.TranslateKernel(space.Machine.DirectMapBase).Succeeded);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Every_method_of_a_disposed_address_space_throws_object_disposed(bool checkedMode)
    {
        (Machine machine, PhysAddr pool) = MachineWithPool(checkedMode: checkedMode);
        using Machine owner = machine;
        AddressSpace space = machine.CreateAddressSpace();
        Populate(space, pool);
        MmuContext context = space.CreateContext();
        Warm(space, context);
        space.Dispose();
        List<(string Name, Action Call)> calls = AddressSpaceCalls(space, context, pool);
        Assert.Empty(PublicMethods(typeof(AddressSpace)).Except(calls.Select(c => c.Name)));
        Assert.Empty(CallsThatDoNotThrow(calls));
        // Its contexts are useless too.
        Assert.Empty(CallsThatDoNotThrow(ContextCalls(context, machine.CreateAddressSpace(), machine).Where(c => c.Name != "SwitchTo" && c.Name != "FlushLocal" && c.Name != "TranslateKernel")));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Every_method_of_a_disposed_context_throws_object_disposed(bool checkedMode)
    {
        (Machine machine, PhysAddr pool) = MachineWithPool(checkedMode: checkedMode);
        using Machine owner = machine;
        using AddressSpace space = machine.CreateAddressSpace();
        using AddressSpace otherSpace = machine.CreateAddressSpace();
        Populate(space, pool);
        MmuContext context = space.CreateContext();
        Warm(space, context);
        context.Dispose();
        context.Dispose(); // twice is fine
        List<(string Name, Action Call)> calls = ContextCalls(context, otherSpace, machine);
        Assert.Empty(PublicMethods(typeof(MmuContext)).Except(calls.Select(c => c.Name)));
        List<string> failures = CallsThatDoNotThrow(calls);
        Assert.True(failures.Count == 0, "disposed MmuContext: " + string.Join("; ", failures));
        // The address space and its implicit context go on working.
        Assert.Equal(8UL, space.Read<ulong>(V(GiB + 8)));
    }

    [Theory]
    [InlineData(PagingMode.FourLevel, false)]
    [InlineData(PagingMode.FiveLevel, true)]
    public void Every_method_of_a_disposed_machine_and_of_its_address_spaces_and_contexts_throws_object_disposed(PagingMode mode, bool checkedMode)
    {
        (Machine machine, PhysAddr pool) = MachineWithPool(mode, checkedMode);
        AddressSpace space = machine.CreateAddressSpace();
        AddressSpace otherSpace = machine.CreateAddressSpace();
        Populate(space, pool);
        MmuContext context = space.CreateContext();
        Warm(space, context);
        machine.Dispose();
        Assert.Equal(0, machine.HostArenas);

        List<(string Name, Action Call)> machineCalls = MachineCalls(machine, pool);
        Assert.Empty(PublicMethods(typeof(Machine)).Except(machineCalls.Select(c => c.Name)));
        var failures = new List<string>();
        failures.AddRange(CallsThatDoNotThrow(machineCalls).Select(f => "Machine." + f));
        failures.AddRange(CallsThatDoNotThrow(AddressSpaceCalls(space, context, pool)).Select(f => "AddressSpace." + f));
        failures.AddRange(CallsThatDoNotThrow(ContextCalls(context, otherSpace, machine).Where(c => c.Name != "FlushLocal")).Select(f => "MmuContext." + f));
        Assert.True(failures.Count == 0, "after Machine.Dispose: " + string.Join("; ", failures));
    }
}

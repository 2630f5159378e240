; Assembly listing for method FastPt.Hardware.Cpu`1[FastPt.Mm.FrameMap]:TranslateSlow(ulong,int,byref):bool:this (Tier1)
; Emitting BLENDED_CODE for generic X64 + VEX on Unix
; Tier1 code
; optimized code
; optimized using Synthesized PGO
; rbp based frame
; fully interruptible
; with Synthesized PGO: fgCalledCount is 298
; 21 inlinees with PGO data; 30 single block inlinees; 0 inlinees without PGO data

G_M000_IG01:                ;; offset=0x0000
       push     rbp
       push     r15
       push     r14
       push     r13
       push     r12
       push     rbx
       sub      rsp, 280
       lea      rbp, [rsp+0x140]
       mov      gword ptr [rbp-0x108], rdi
       mov      qword ptr [rbp-0x30], rsi
       mov      dword ptr [rbp-0x34], edx
       mov      bword ptr [rbp-0x110], rcx
 
G_M000_IG02:                ;; offset=0x002E
       mov      rax, gword ptr [rdi+0x20]
       mov      dword ptr [rax+0x18], 1
 
G_M000_IG03:                ;; offset=0x0039
       mov      rax, qword ptr [rdi+0x50]
       mov      r8, gword ptr [rdi+0x38]
       cmp      rax, qword ptr [r8+0x28]
       jne      G_M000_IG08
       cmp      byte  ptr [rdi+0xC0], 0
       jne      G_M000_IG08
       mov      rax, gword ptr [rdi+0x18]
       mov      r8, rax
       mov      r9, rsi
       and      r9, -0x1000
       vmovq    xmm0, r9
       vpbroadcastq ymm0, ymm0
       mov      r10, qword ptr [r8+0x50]
       vpcmpeqq ymm1, ymm0, ymmword ptr [r10]
       vmovmskpd r11, ymm1
       vpcmpeqq ymm0, ymm0, ymmword ptr [r10+0x20]
       vmovmskpd r10, ymm0
       shl      r10d, 4
       or       r10d, r11d
       mov      r11d, -1
       xor      ebx, ebx
       tzcnt    ebx, r10d
       test     r10d, r10d
       cmovne   r11d, ebx
       test     r11d, r11d
       jge      G_M000_IG09
 
G_M000_IG04:                ;; offset=0x00AE
       mov      edx, dword ptr [rbp-0x34]
       cmp      rsi, qword ptr [rdi+0x48]
       jae      G_M000_IG08
       mov      r8, rax
       mov      r9, gword ptr [r8+0x10]
       mov      r10, rsi
       shr      r10, 21
       mov      r11d, r10d
       and      r11d, dword ptr [r8+0xAC]
       cmp      r11d, dword ptr [r9+0x08]
       jae      G_M000_IG49
       mov      r8d, r11d
       lea      r8, [r8+2*r8]
       lea      r8, bword ptr [r9+8*r8+0x10]
       inc      r10
       cmp      qword ptr [r8], r10
       jne      G_M000_IG11
       mov      rbx, qword ptr [r8+0x08]
       mov      r15d, dword ptr [r8+0x10]
       mov      r14d, 1
 
G_M000_IG05:                ;; offset=0x0103
       mov      r13d, r14d
       mov      rax, gword ptr [rdi+0x08]
       lea      r8d, [r13-0x01]
       lea      r8d, [r8+8*r8]
       add      r8d, 12
       shrx     r8, rsi, r8
       and      r8d, 511
       shl      r8d, 3
       movsxd   r12, r8d
       add      r12, rbx
       mov      r8, qword ptr [rax+0x08]
       mov      r9, r12
       shr      r9, 27
       mov      rbx, qword ptr [r8+8*r9]
       test     rbx, rbx
       je       G_M000_IG14
 
G_M000_IG06:                ;; offset=0x0144
       and      r12, 0x7FFFFFF
       add      rbx, r12
       mov      r12, qword ptr [rbx]
       cmp      r13d, 2
       je       G_M000_IG15
 
G_M000_IG07:                ;; offset=0x015B
       mov      eax, 64
       xor      r8d, r8d
       cmp      edx, 1
       cmovne   rax, r8
       or       rax, 33
       mov      r8, r12
       and      r8, rax
       cmp      r8, rax
       je       G_M000_IG18
 
G_M000_IG08:                ;; offset=0x017D
       mov      edx, dword ptr [rbp-0x34]
       mov      rdi, gword ptr [rbp-0x108]
       mov      rsi, qword ptr [rbp-0x30]
       lea      r8, [rbp-0x48]
       lea      rcx, [rbp-0x68]
       call     [FastPt.Hardware.Cpu`1[FastPt.Mm.FrameMap]:Lookup(ulong,int,byref,byref):bool:this]
       test     eax, eax
       je       G_M000_IG50
       jmp      G_M000_IG48
 
G_M000_IG09:                ;; offset=0x01A6
       mov      r10d, r11d
       mov      r11, r10
       shl      r11, 5
       add      r11, qword ptr [r8+0x38]
       mov      rbx, r11
       cmp      byte  ptr [rbx], bl
       movsxd   r15, edx
       mov      rbx, qword ptr [rbx+8*r15]
       mov      r15, r9
       or       r15, qword ptr [r8+0x70]
       cmp      rbx, r15
       jne      G_M000_IG04
       shr      r9, 12
       and      r9d, dword ptr [r8+0x9C]
       movsxd   rax, r9d
       mov      r9, rax
       shl      r9, 5
       add      r9, qword ptr [r8+0x20]
       mov      rbx, r9
       mov      r15, r11
       vmovdqu  ymm0, ymmword ptr [r11]
       vmovdqu  ymmword ptr [rbp-0x90], ymm0
       vmovdqu  ymm0, ymmword ptr [r9]
       vmovdqu  ymmword ptr [rbp-0xB0], ymm0
       vmovdqu  ymm0, ymmword ptr [rbp-0x90]
       vmovdqu  ymmword ptr [rbx], ymm0
       vmovdqu  ymm0, ymmword ptr [rbp-0xB0]
       vmovdqu  ymmword ptr [r15], ymm0
       mov      r9, qword ptr [r8+0x28]
       lea      r11, [r9+8*rax]
       mov      rbx, qword ptr [r8+0x40]
       lea      r15, [8*r10]
       lea      r14, [rbx+r15]
       mov      rbx, qword ptr [rbx+8*r10]
       mov      r9, qword ptr [r9+8*rax]
       mov      qword ptr [r11], rbx
       mov      qword ptr [r14], r9
       shl      rax, 4
       add      rax, qword ptr [r8+0x30]
       mov      r9, rax
       shl      r10, 4
       mov      r11, r10
       add      r11, qword ptr [r8+0x48]
       mov      rbx, r11
       mov      r14, qword ptr [r11]
       mov      r11, qword ptr [r11+0x08]
       mov      r13, qword ptr [rax]
       mov      rax, qword ptr [rax+0x08]
       mov      qword ptr [r9], r14
       mov      qword ptr [r9+0x08], r11
       mov      qword ptr [rbx], r13
       mov      qword ptr [rbx+0x08], rax
       add      r15, qword ptr [r8+0x50]
       add      r10, qword ptr [r8+0x48]
       mov      rax, qword ptr [r10]
       and      rax, -0x1000
       mov      qword ptr [r15], rax
       inc      qword ptr [rdi+0x68]
       inc      qword ptr [rdi+0x70]
       mov      rax, gword ptr [rdi+0x18]
       mov      r8, qword ptr [rax+0x28]
       mov      r9, rsi
       shr      r9, 12
       and      r9d, dword ptr [rax+0x9C]
 
G_M000_IG10:                ;; offset=0x02AF
       movsxd   rax, r9d
       mov      r9, rsi
       and      r9, 0xFFF
       or       r9, qword ptr [r8+8*rax]
       mov      qword ptr [rcx], r9
       jmp      G_M000_IG53
 
G_M000_IG11:                ;; offset=0x02C8
       mov      r8, gword ptr [rax+0x18]
       mov      r9, rsi
       shr      r9, 30
       and      r9d, dword ptr [rax+0xAC]
       cmp      r9d, dword ptr [r8+0x08]
       jae      G_M000_IG49
       mov      eax, r9d
       lea      rax, [rax+2*rax]
       lea      rax, bword ptr [r8+8*rax+0x10]
       mov      r8, rsi
       shr      r8, 30
       inc      r8
       cmp      qword ptr [rax], r8
       jne      SHORT G_M000_IG12
       mov      rbx, qword ptr [rax+0x08]
       mov      r15d, dword ptr [rax+0x10]
       mov      eax, 1
       jmp      SHORT G_M000_IG13
 
G_M000_IG12:                ;; offset=0x030E
       xor      ebx, ebx
       xor      r15d, r15d
       xor      eax, eax
 
G_M000_IG13:                ;; offset=0x0315
       test     eax, eax
       je       G_M000_IG08
       mov      r14d, 2
       jmp      G_M000_IG05
 
G_M000_IG14:                ;; offset=0x0328
       mov      rsi, r12
       shr      rsi, 27
       mov      rdi, rax
       call     [FastPt.Hardware.PhysicalMemory:CreateArena(ulong):nint:this]
       mov      rbx, rax
       mov      rcx, bword ptr [rbp-0x110]
       mov      edx, dword ptr [rbp-0x34]
       jmp      G_M000_IG06
 
G_M000_IG15:                ;; offset=0x034A
       mov      eax, r12d
       and      eax, 161
       cmp      eax, 33
       jne      G_M000_IG17
       mov      eax, r15d
       and      r15d, -2
       test     r12b, 2
       cmove    eax, r15d
       mov      r8d, eax
       and      r8d, -3
       test     r12b, 4
       cmove    eax, r8d
       mov      r8, 0x8000000000000000
       mov      r9d, eax
       or       r9d, 4
       test     r12, r8
       cmovne   eax, r9d
       mov      r15d, eax
       mov      rbx, 0xFFFFFFFFFF000
       and      rbx, r12
       mov      rdi, gword ptr [rbp-0x108]
       mov      rax, gword ptr [rdi+0x08]
       cmp      rbx, qword ptr [rax+0x38]
       jae      G_M000_IG08
       mov      rdi, gword ptr [rdi+0x18]
       mov      rsi, qword ptr [rbp-0x30]
       mov      rdx, rbx
       mov      ecx, r15d
       cmp      dword ptr [rdi], edi
       call     [FastPt.Hardware.SoftTlb:CachePteTable(ulong,ulong,int):this]
       mov      r14d, 1
       mov      rdi, gword ptr [rbp-0x108]
       mov      rax, gword ptr [rdi+0x08]
       mov      rsi, qword ptr [rbp-0x30]
       mov      rcx, rsi
       shr      rcx, 12
       and      ecx, 511
       shl      ecx, 3
       movsxd   r12, ecx
       add      r12, rbx
       mov      rcx, qword ptr [rax+0x08]
       mov      rdx, r12
       shr      rdx, 27
       mov      rbx, qword ptr [rcx+8*rdx]
       test     rbx, rbx
       jne      SHORT G_M000_IG16
       mov      rsi, r12
       shr      rsi, 27
       mov      rdi, rax
       call     [FastPt.Hardware.PhysicalMemory:CreateArena(ulong):nint:this]
       mov      rbx, rax
 
G_M000_IG16:                ;; offset=0x041E
       and      r12, 0x7FFFFFF
       add      rbx, r12
       mov      r12, qword ptr [rbx]
       mov      rcx, bword ptr [rbp-0x110]
       mov      edx, dword ptr [rbp-0x34]
       jmp      G_M000_IG07
 
G_M000_IG17:                ;; offset=0x043A
       test     r12b, 128
       je       G_M000_IG08
       jmp      G_M000_IG07
 
G_M000_IG18:                ;; offset=0x0449
       mov      eax, r15d
       mov      r8d, r15d
       and      r8d, -2
       test     r12b, 2
       cmove    eax, r8d
       mov      r8d, eax
       and      r8d, -3
       test     r12b, 4
       cmove    eax, r8d
       mov      r8, 0x8000000000000000
       mov      r9d, eax
       or       r9d, 4
       test     r12, r8
       cmovne   eax, r9d
       test     al, 2
       je       G_M000_IG08
       cmp      edx, 1
       jne      SHORT G_M000_IG19
       test     al, 1
       je       G_M000_IG08
 
G_M000_IG19:                ;; offset=0x0497
       cmp      edx, 2
       jne      SHORT G_M000_IG20
       mov      dword ptr [rbp-0xB4], eax
       test     al, 4
       sete     r8b
       movzx    r8, r8b
       test     r8d, r8d
       mov      eax, dword ptr [rbp-0xB4]
       je       G_M000_IG08
 
G_M000_IG20:                ;; offset=0x04BB
       lea      r8d, [r14-0x01]
       lea      r8d, [r8+8*r8]
       add      r8d, 12
       mov      r9d, 1
       shlx     r15, r9, r8
       dec      r15
       and      r15, qword ptr [rbp-0x30]
       lea      r8d, [r14-0x01]
       lea      r8d, [r8+8*r8]
       add      r8d, 12
       shlx     r8, r9, r8
       dec      r8
       andn     r8, r8, r12
       mov      r9, 0xFFFFFFFFFF000
       and      r8, r9
       or       r15, r8
       mov      rdi, gword ptr [rbp-0x108]
       mov      r8, gword ptr [rdi+0x08]
       cmp      r15, qword ptr [r8+0x38]
       mov      dword ptr [rbp-0xB4], eax
       jae      G_M000_IG08
       mov      r8, gword ptr [rdi+0xC8]
       mov      rsi, r15
       shr      rsi, 12
       mov      rdi, r8
       cmp      dword ptr [rdi], edi
       call     [FastPt.Mm.SparseMemory:PfnPresent(ulong):bool:this]
       test     eax, eax
       je       G_M000_IG08
       cmp      r13d, 1
       jne      SHORT G_M000_IG21
       mov      rdi, gword ptr [rbp-0x108]
       inc      qword ptr [rdi+0x78]
       jmp      SHORT G_M000_IG22
 
G_M000_IG21:                ;; offset=0x0551
       mov      rdi, gword ptr [rbp-0x108]
       inc      qword ptr [rdi+0x80]
 
G_M000_IG22:                ;; offset=0x055F
       inc      qword ptr [rdi+0x68]
       mov      r13, r15
       and      r13, -0x1000
       mov      qword ptr [rbp-0x70], r13
       cmp      r14d, 1
       jle      SHORT G_M000_IG24
       xor      esi, esi
       mov      dword ptr [rsp], esi
 
G_M000_IG23:                ;; offset=0x057C
       mov      dword ptr [rsp+0x08], esi
       mov      qword ptr [rsp+0x10], rbx
       mov      rsi, qword ptr [rbp-0x30]
       mov      rdx, r15
       mov      rcx, r12
       mov      r8d, r14d
       mov      r9d, dword ptr [rbp-0xB4]
       call     [FastPt.Hardware.Cpu`1[FastPt.Mm.FrameMap]:FillHuge(ulong,ulong,ulong,int,int,bool,bool,ptr):int:this]
       jmp      G_M000_IG47
 
G_M000_IG24:                ;; offset=0x05A4
       mov      rsi, qword ptr [rbp-0x30]
       mov      r15, rsi
       and      r15, -0x1000
       mov      rax, gword ptr [rdi+0x18]
       mov      rcx, r15
       or       rcx, qword ptr [rax+0x70]
       mov      eax, 4
       xor      edx, edx
       cmp      byte  ptr [rdi+0xC0], 0
       cmove    rax, rdx
       or       rax, rcx
       mov      qword ptr [rbp-0xC0], rax
       test     r12b, 64
       je       SHORT G_M000_IG28
       mov      ecx, dword ptr [rbp-0xB4]
       test     cl, 2
       je       SHORT G_M000_IG26
       mov      dword ptr [rbp-0xB4], ecx
       test     cl, 1
       je       SHORT G_M000_IG25
       mov      edx, 1
       jmp      SHORT G_M000_IG27
 
G_M000_IG25:                ;; offset=0x05FC
       mov      ecx, dword ptr [rbp-0xB4]
 
G_M000_IG26:                ;; offset=0x0602
       xor      edx, edx
       mov      dword ptr [rbp-0xB4], ecx
 
G_M000_IG27:                ;; offset=0x060A
       jmp      SHORT G_M000_IG29
 
G_M000_IG28:                ;; offset=0x060C
       xor      edx, edx
 
G_M000_IG29:                ;; offset=0x060E
       movzx    rdx, dl
       mov      dword ptr [rbp-0xC4], edx
       test     edx, edx
       jne      SHORT G_M000_IG31
       mov      r8, gword ptr [rdi+0x08]
       mov      r9, qword ptr [r8+0x08]
       mov      r10, r13
       shr      r10, 27
       mov      r9, qword ptr [r9+8*r10]
       test     r9, r9
       jne      SHORT G_M000_IG30
       mov      rsi, r13
       shr      rsi, 27
       mov      rdi, r8
       call     [FastPt.Hardware.PhysicalMemory:CreateArena(ulong):nint:this]
       mov      r9, rax
 
G_M000_IG30:                ;; offset=0x0646
       mov      r8, r13
       and      r8, 0x7FFFFFF
       add      r8, r9
       mov      qword ptr [rbp-0xD0], r8
       jmp      SHORT G_M000_IG34
 
G_M000_IG31:                ;; offset=0x065C
       mov      r8, gword ptr [rdi+0x08]
       mov      gword ptr [rbp-0x118], r8
       mov      r9, r13
       shr      r9, 21
       mov      r10, qword ptr [r8+0x18]
       mov      r11, r9
       shr      r11, 6
       mov      r10, qword ptr [r10+8*r11]
       bt       r10, r9
       jb       SHORT G_M000_IG32
       mov      rdi, r8
       mov      rsi, r13
       call     [FastPt.Hardware.PhysicalMemory:MarkWritten(ulong):this]
       mov      r8, gword ptr [rbp-0x118]
 
G_M000_IG32:                ;; offset=0x0696
       mov      r9, qword ptr [r8+0x08]
       mov      r10, r13
       shr      r10, 27
       mov      r9, qword ptr [r9+8*r10]
       test     r9, r9
       jne      SHORT G_M000_IG33
       mov      rsi, r13
       shr      rsi, 27
       mov      rdi, r8
       call     [FastPt.Hardware.PhysicalMemory:CreateArena(ulong):nint:this]
       mov      r9, rax
 
G_M000_IG33:                ;; offset=0x06BD
       mov      r8, r13
       and      r8, 0x7FFFFFF
       add      r8, r9
       mov      qword ptr [rbp-0xD0], r8
 
G_M000_IG34:                ;; offset=0x06D1
       lea      r9d, [r14-0x01]
       lea      r9d, [r9+8*r9]
       add      r9d, 12
       mov      r10d, 1
       shlx     r9, r10, r9
       mov      qword ptr [rbp-0xD8], r9
       mov      rdi, gword ptr [rbp-0x108]
       mov      r10, gword ptr [rdi+0x18]
       mov      gword ptr [rbp-0x120], r10
       lea      r11, [r9-0x01]
       andn     r11, r11, qword ptr [rbp-0x30]
       mov      qword ptr [rbp-0x100], r11
       mov      rcx, r15
       shr      rcx, 12
       and      ecx, dword ptr [r10+0x9C]
       mov      dword ptr [rbp-0xF4], ecx
       movsxd   r13, ecx
       shl      r13, 4
       add      r13, qword ptr [r10+0x30]
       mov      bword ptr [rbp-0x128], r13
       mov      r13, qword ptr [r13]
       and      r13, -0x1000
       cmp      r13, r15
       je       G_M000_IG36
       mov      rdi, r10
       mov      esi, ecx
       call     [FastPt.Hardware.SoftTlb:IsCurrent(int):bool:this]
       test     eax, eax
       je       G_M000_IG39
       mov      r13, gword ptr [rbp-0x120]
       mov      rdi, qword ptr [r13+0x38]
       movsxd   rax, dword ptr [r13+0xA0]
       shl      rax, 5
       mov      rcx, qword ptr [r13+0x20]
       mov      edx, dword ptr [rbp-0xF4]
       movsxd   rsi, edx
       shl      rsi, 5
       vmovdqu  ymm0, ymmword ptr [rcx+rsi]
       vmovdqu  ymmword ptr [rdi+rax], ymm0
       mov      rdi, qword ptr [r13+0x40]
       movsxd   rax, dword ptr [r13+0xA0]
       mov      rcx, qword ptr [r13+0x28]
       movsxd   rsi, edx
       mov      rcx, qword ptr [rcx+8*rsi]
       mov      qword ptr [rdi+8*rax], rcx
       mov      rdi, qword ptr [r13+0x48]
       movsxd   rax, dword ptr [r13+0xA0]
       shl      rax, 4
       mov      rcx, bword ptr [rbp-0x128]
       vmovups  xmm0, xmmword ptr [rcx]
       vmovups  xmmword ptr [rdi+rax], xmm0
       mov      rdi, qword ptr [r13+0x50]
       movsxd   rax, dword ptr [r13+0xA0]
       mov      rcx, qword ptr [rcx]
       and      rcx, -0x1000
       mov      qword ptr [rdi+8*rax], rcx
       mov      edi, dword ptr [r13+0xA0]
       inc      edi
       and      edi, 7
 
G_M000_IG35:                ;; offset=0x07EE
       mov      dword ptr [r13+0xA0], edi
       mov      r10, r13
       mov      ecx, dword ptr [rbp-0xF4]
 
G_M000_IG36:                ;; offset=0x07FE
       mov      r9, qword ptr [rbp-0xD8]
       cmp      r9, 0x1000
       jbe      SHORT G_M000_IG38
       mov      r11, qword ptr [rbp-0x100]
       cmp      r11, qword ptr [r10+0x88]
       jae      SHORT G_M000_IG37
       mov      qword ptr [r10+0x88], r11
 
G_M000_IG37:                ;; offset=0x0825
       lea      r13, [r11+r9]
       cmp      r13, qword ptr [r10+0x90]
       jbe      SHORT G_M000_IG38
       add      r9, r11
       mov      qword ptr [r10+0x90], r9
 
G_M000_IG38:                ;; offset=0x083C
       mov      rdi, gword ptr [rbp-0x108]
       mov      r13, gword ptr [rdi+0x18]
       mov      r9d, dword ptr [rbp-0xB4]
       test     r9b, 2
       je       SHORT G_M000_IG40
       mov      rax, qword ptr [rbp-0xC0]
       mov      r10, rax
       jmp      SHORT G_M000_IG41
 
G_M000_IG39:                ;; offset=0x0860
       mov      ecx, dword ptr [rbp-0xF4]
       mov      r10, gword ptr [rbp-0x120]
       jmp      SHORT G_M000_IG36
 
G_M000_IG40:                ;; offset=0x086F
       mov      rax, qword ptr [rbp-0xC0]
       mov      r10, rax
       or       r10, 1
       mov      qword ptr [rbp-0xE0], r10
 
G_M000_IG41:                ;; offset=0x0884
       test     r9b, 2
       je       SHORT G_M000_IG42
       test     r9b, 1
       je       SHORT G_M000_IG42
       mov      r11, rax
       or       r11, 2
       cmp      dword ptr [rbp-0xC4], 0
       mov      rdx, r11
       cmovne   rdx, rax
       jmp      SHORT G_M000_IG43
 
G_M000_IG42:                ;; offset=0x08A7
       mov      rdx, rax
       or       rdx, 1
       mov      qword ptr [rbp-0xE8], rdx
 
G_M000_IG43:                ;; offset=0x08B5
       test     r9b, 2
       je       SHORT G_M000_IG44
       test     r9b, 4
       sete     r9b
       movzx    r9, r9b
       test     r9d, r9d
       jne      SHORT G_M000_IG45
 
G_M000_IG44:                ;; offset=0x08CC
       mov      r9, rax
       or       r9, 1
       mov      qword ptr [rbp-0xF0], r9
       mov      qword ptr [rbp-0xE0], r10
       mov      qword ptr [rbp-0xE8], rdx
       jmp      SHORT G_M000_IG46
 
G_M000_IG45:                ;; offset=0x08EA
       mov      r9, rax
       mov      qword ptr [rbp-0xE0], r10
       mov      qword ptr [rbp-0xE8], rdx
       mov      qword ptr [rbp-0xF0], r9
 
G_M000_IG46:                ;; offset=0x0902
       mov      rdi, r12
       call     [FastPt.Hardware.PageTableEntry:ProtectionOf(ulong):int]
       mov      edx, eax
       mov      esi, r14d
       mov      rdi, r15
       xor      ecx, ecx
       call     [FastPt.Hardware.TlbDetail:Pack(ulong,int,int,bool):ulong]
       mov      r14d, dword ptr [rbp-0xF4]
       movsxd   r8, r14d
       shl      r8, 5
       add      r8, qword ptr [r13+0x20]
       mov      r12, qword ptr [rbp-0xE0]
       mov      qword ptr [r8], r12
       mov      r12, qword ptr [rbp-0xE8]
       mov      qword ptr [r8+0x08], r12
       mov      r12, qword ptr [rbp-0xF0]
       mov      qword ptr [r8+0x10], r12
       mov      r12, qword ptr [rbp-0xD0]
       sub      r12, r15
       mov      qword ptr [r8+0x18], r12
       mov      r8, qword ptr [r13+0x28]
       movsxd   rcx, r14d
       mov      r15, qword ptr [rbp-0x70]
       mov      qword ptr [r8+8*rcx], r15
       movsxd   r8, r14d
       shl      r8, 4
       add      r8, qword ptr [r13+0x30]
       mov      qword ptr [r8], rax
       mov      qword ptr [r8+0x08], rbx
       mov      r13, r15
 
G_M000_IG47:                ;; offset=0x097F
       mov      rsi, qword ptr [rbp-0x30]
       mov      r8, rsi
       and      r8, 0xFFF
       or       r8, r13
       mov      rcx, bword ptr [rbp-0x110]
       mov      qword ptr [rcx], r8
       mov      rdi, gword ptr [rbp-0x108]
       jmp      SHORT G_M000_IG53
 
G_M000_IG48:                ;; offset=0x09A3
       mov      rsi, qword ptr [rbp-0x30]
       mov      rcx, rsi
       and      rcx, 0xFFF
       or       rcx, qword ptr [rbp-0x68]
       mov      rax, bword ptr [rbp-0x110]
       mov      qword ptr [rax], rcx
       mov      rdi, gword ptr [rbp-0x108]
       jmp      SHORT G_M000_IG53
 
G_M000_IG49:                ;; offset=0x09C8
       call     CORINFO_HELP_RNGCHKFAIL
       int3     
 
G_M000_IG50:                ;; offset=0x09CE
       call     G_M000_IG55
       nop      
 
G_M000_IG51:                ;; offset=0x09D4
       mov      rcx, qword ptr [rbp-0x48]
       mov      r8, qword ptr [rbp-0x40]
       mov      rdi, gword ptr [rbp-0x108]
       mov      rsi, qword ptr [rbp-0x30]
       mov      edx, dword ptr [rbp-0x34]
       mov      r9, bword ptr [rbp-0x110]
       call     [FastPt.Hardware.Cpu`1[FastPt.Mm.FrameMap]:TranslateAfterFault(ulong,int,FastPt.PageFault,byref):bool:this]
       nop      
 
G_M000_IG52:                ;; offset=0x09F8
       vzeroupper 
       add      rsp, 280
       pop      rbx
       pop      r12
       pop      r13
       pop      r14
       pop      r15
       pop      rbp
       ret      
 
G_M000_IG53:                ;; offset=0x0A0D
       mov      rax, gword ptr [rdi+0x20]
       xor      ecx, ecx
       mov      dword ptr [rax+0x18], ecx
       mov      eax, 1
 
G_M000_IG54:                ;; offset=0x0A1B
       vzeroupper 
       add      rsp, 280
       pop      rbx
       pop      r12
       pop      r13
       pop      r14
       pop      r15
       pop      rbp
       ret      
 
G_M000_IG55:                ;; offset=0x0A30
       sub      rsp, 24
 
G_M000_IG56:                ;; offset=0x0A34
       mov      rdi, gword ptr [rbp-0x108]
       mov      rcx, gword ptr [rdi+0x20]
       xor      r8d, r8d
       mov      dword ptr [rcx+0x18], r8d
 
G_M000_IG57:                ;; offset=0x0A46
       vzeroupper 
       add      rsp, 24
       ret      
 
; Total bytes of code 2638

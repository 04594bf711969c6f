"""Policy alignment: PRO-MORLHF (TRL GRPO/RLOO on the adapter-weighted combined reward) and PRO-WIC
(weights in context, rejection sampling).  See docs/alignment.md."""

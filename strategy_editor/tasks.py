"""Thin Celery tasks of the editor: they take ids and call its services."""

from celery import shared_task

from strategy_editor.services import draft_preview_run


@shared_task(bind=True, acks_late=True)
def draft_preview_task(self, draft_id: int, token: str) -> str:
    """The preview (minutes at 1,000,000 credits): progress goes to the result backend
    as the steps run, the result to the draft. A redelivery simply runs it again."""

    def progress(stage: str, done: int, total: int) -> None:
        if not self.request.is_eager and self.request.id:
            self.update_state(state="PROGRESS", meta={"stage": stage, "done": done, "total": total})

    return draft_preview_run(draft_id=draft_id, token=token, progress=progress)
